"""The polls questions with their choices as JSON, through the sync and the async ORM API."""

from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, JsonResponse

from polls.models import Choice, Question

# Enough rows to make the database work visible, few enough to keep responses small.
MAX_QUESTIONS = 50


def questions_with_choices() -> QuerySet[Question]:
    """The first questions, each with its choices prefetched in one extra query."""
    choices = Prefetch("choice_set", queryset=Choice.objects.order_by("id"))
    return Question.objects.order_by("id").prefetch_related(choices)[:MAX_QUESTIONS]


def question_payload(question: Question) -> dict:
    """A question and its (prefetched) choices as JSON-ready data."""
    return {
        "id": question.id,
        "question_text": question.question_text,
        "pub_date": question.pub_date.isoformat(),
        "choices": [
            {"id": choice.id, "choice_text": choice.choice_text, "votes": choice.votes}
            for choice in question.choice_set.all()
        ],
    }


def orm_sync(request: HttpRequest) -> JsonResponse:
    """Questions through the blocking ORM API."""
    questions = [question_payload(question) for question in questions_with_choices()]
    total = Question.objects.count()
    return JsonResponse({"view": "sync", "total": total, "questions": questions})


async def orm_async(request: HttpRequest) -> JsonResponse:
    """Questions through the async ORM API (each query still runs in Django's sync thread)."""
    questions = [question_payload(question) async for question in questions_with_choices()]
    total = await Question.objects.acount()
    return JsonResponse({"view": "async", "total": total, "questions": questions})
