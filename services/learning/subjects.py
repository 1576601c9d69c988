"""Subjects as they are stored and searched: trimmed, inner white space
collapsed and case-folded, so "  Maths  " and "maths" are one subject.

KNOWN is the list apps offer to pick from (the ``subjects`` query); any
other subject a tutor types is kept too, in the same folded form."""

KNOWN = (
    "maths", "physics", "chemistry", "biology", "english", "history", "geography", "economics",
    "computer science", "coding", "music", "art", "french", "german", "spanish", "italian", "chinese",
    "japanese", "latin", "literature", "philosophy", "psychology", "sociology", "business studies",
    "accounting", "statistics", "law", "drama", "design and technology", "religious studies",
)


def normalise(value):
    return " ".join(value.split()).casefold()
