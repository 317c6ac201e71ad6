"""The tutorial's poll views: the latest questions, a vote form, the results."""

from django.db.models import F, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views import generic
from django.views.decorators.http import require_POST

from polls.models import Choice, Question


def published_questions() -> QuerySet[Question]:
    """Questions whose publication date has come."""
    return Question.objects.filter(pub_date__lte=timezone.now())


class IndexView(generic.ListView):
    template_name = "polls/index.html"
    context_object_name = "latest_question_list"

    def get_queryset(self) -> QuerySet[Question]:
        return published_questions().order_by("-pub_date")[:5]


class DetailView(generic.DetailView):
    model = Question
    template_name = "polls/detail.html"

    def get_queryset(self) -> QuerySet[Question]:
        return published_questions()


class ResultsView(generic.DetailView):
    model = Question
    template_name = "polls/results.html"

    def get_queryset(self) -> QuerySet[Question]:
        return published_questions()


@require_POST
def vote(request: HttpRequest, question_id: int) -> HttpResponse:
    """Count one vote, then redirect so that reloading the results does not vote again."""
    question = get_object_or_404(published_questions(), pk=question_id)
    try:
        selected = question.choice_set.get(pk=request.POST["choice"])
    except (KeyError, ValueError, Choice.DoesNotExist):
        context = {"question": question, "error_message": "You didn't select a choice."}
        return render(request, "polls/detail.html", context)
    # F() lets the database add one, so concurrent votes are not lost.
    selected.votes = F("votes") + 1
    selected.save(update_fields=["votes"])
    return HttpResponseRedirect(reverse("polls:results", args=(question.id,)))
