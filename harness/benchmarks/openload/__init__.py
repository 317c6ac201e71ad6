"""openload: our open-model load generator (``openload.mjs``, Node.js standard library only).

It sends HTTP/1.1 requests on a fixed schedule and times each from the moment it was due, so a
server that falls behind is charged for the queue it builds (no coordinated omission), and a
rate the server cannot hold shows as such. RESEARCH.md section 8 says why no tool from the
package registries does this here (autocannon 9.0.0's rate mode is not an open model).

``command`` builds the command line; ``run`` runs it (own process group, killed at its
deadline or on Ctrl-C) and makes the Measurement.
"""
