"""The measurement views, one module per kind of behaviour; demo/urls.py maps them to paths."""
