from django.contrib import admin

from polls.models import Choice, Question


class ChoiceInline(admin.TabularInline):
    model = Choice
    extra = 3


@admin.register(Question)
class QuestionAdmin(admin.ModelAdmin):
    fields = ("question_text", "pub_date")
    inlines = (ChoiceInline,)
    list_display = ("question_text", "pub_date", "was_published_recently")
    list_filter = ("pub_date",)
    search_fields = ("question_text",)
