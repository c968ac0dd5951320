"""What a question asks for, and the spans of a sentence that could be it.

``question_kind`` types a question (a date for "when", a count for "how many", a name for "who", a place for "where")
and says whether it asks for several facts; ``typed_candidates`` finds the spans of a sentence of the asked-for type;
``asked_speaker`` and ``speaker_fit`` say whose words a question asks for and whether a sentence gives theirs.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_MONTH = r"(?:January|February|March|April|May|June|July|August|September|October|November|December|" \
         r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\.?"
_WEEKDAY = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_NUMBER_WORD = r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|" \
               r"fifty|hundred|thousand|million|billion|half|dozen|first|second|third|fourth|fifth|sixth|" \
               r"seventh|eighth|ninth|tenth)"
_NUM = rf"(?:\d[\d,.]*|{_NUMBER_WORD})"
_CENTURY = r"\d{1,2}(?:st|nd|rd|th)\s+century"
# Capitalised words that are no one's name: function words, and the adverbs and conjunctions that open a sentence
_NOT_NAMES = r"(?:The|A|An|In|On|At|By|For|From|To|Of|And|But|Or|He|She|It|They|We|I|His|Her|Its|Their|This|That|" \
             r"These|Those|There|Then|When|While|After|Before|During|Since|As|If|Yes|No|Mr|Mrs|Ms|Dr|However|" \
             r"Although|Though|Meanwhile|Also|Still|Yet|So|Thus|Now|Here|Both|Each|All|Some|Many|Most|Such|" \
             r"According|Earlier|Later|Today|Instead|Indeed|Despite|With|Without|Under|Over|Among|What|Who|Why|How|" \
             r"Where|Which|Our|My|Your|You|Us|Me|Him|Them|Not|Only|Even|Just|Last|Next|First|Further|Furthermore)"
# The place a dateline or photo caption gives before its date ("BEIJING, Nov. 24 (Xinhua)", "New York, U.S., January
# 8, 2024"), of at most five words, so that a long run of capitalised words is not tried at every length
_DATELINE_PLACE = (rf"\b[A-Z][a-z]+(?:\s[A-Z][a-z]+){{0,4}}(?=,\s+[A-Z][\w.]*(?:\s[A-Z][\w.]*)?,\s+{_MONTH}\s+\d)"
                   rf"|^[A-Z]{{3,}}(?:\s[A-Z]{{3,}})*(?=,\s+{_MONTH}\s+\d)")
_PATTERNS = {
    "date": re.compile(
        rf"\b(?:{_MONTH}\s+\d{{1,2}}(?:,\s*\d{{4}})?|\d{{1,2}}\s+{_MONTH}(?:\s+\d{{4}})?|{_MONTH}\s+\d{{4}}|"
        rf"(?:in|since|until|by)\s+{_MONTH}(?!\s*\d)|(?:on|last|this|next)\s+{_WEEKDAY}|{_WEEKDAY}|"
        rf"(?:last|this|next)\s+(?:month|year|week)|{_CENTURY}|(?:1\d|20)\d{{2}}s?)\b"),
    "number": re.compile(
        rf"\b(?:(?:more than|less than|approximately|about|nearly|over|almost|some|around)\s+)?"
        rf"{_NUM}(?:(?:\s+and\s+a|\s+and|-|\s+)\s*{_NUM})*(?:\s+(?:per\s?cent|percent|%)|(?P<noun>\s+[a-z]+s))?\b",
        re.IGNORECASE),
    # a capitalised name; never a month, a weekday or a capitalised function word ("On Sunday" is no one's name)
    "name": re.compile(rf"\b(?:(?:Mr|Mrs|Ms|Dr|President|Secretary)\.?\s+)?(?!(?:{_MONTH}|{_WEEKDAY}|{_NOT_NAMES})\b)"
                       r"[A-Z][a-z\u2019'-]+(?:\s+[A-Z][a-z\u2019'-]+)*"),
    # "How did X describe Y?" is answered in X's words: a quotation, or "... as candid and constructive"
    "words": re.compile(r"[\u201c\"]([^\u201c\u201d\"]{3,200})[\u201d\"]|\bas\s+((?:very\s+)?[a-z-]+(?:\s+and\s+[a-z-]+)?)\b"),
    # a capitalised name after "in", "at", ...; not a month or weekday ("in January" says when, not where); or the
    # place a dateline or photo caption gives before its date (_DATELINE_PLACE)
    "place": re.compile(rf"(?:(?<=\bin )|(?<=\bat )|(?<=\bto )|(?<=\bnear )|(?<=\bfrom ))"
                        rf"(?:the )?(?!(?:{_MONTH}|{_WEEKDAY})\b)[A-Z][a-z]+(?:[\s-][A-Z][a-z]+)*"
                        rf"|{_DATELINE_PLACE}"),
}
# the role a "which" question asks a name for ("Which US president ...?", "Which top Chinese diplomat ...?")
_ROLE = r"(?P<role>person|official|leader|minister|president|diplomat|spokesperson|spokesman|spokeswoman)"
# roles that tell one name from another; anyone in the news is an "official" or a "leader"
_TELLING_ROLES = {"minister", "president", "diplomat", "spokesperson", "spokesman", "spokeswoman"}
_ASKED_ROLE = re.compile(rf"\bwhich (?:[a-z.-]+ ){{0,2}}{_ROLE}\b")
# "Which countries", "which two leaders": a plural after "which" asks for several; "was", "us", "genus", "this" are
# no plurals ("Which team was ...", "Which US president ...")
_PLURAL = r"(?!(?:was|has|does|its|yes|news)\b)[a-z]*[^\Wsui]s"
_LIST_CUES = re.compile(r"\b(agree[ds]?|discuss(?:ed)?|announce[ds]?|outline[ds]?|areas|issues|steps|topics|points|"
                        rf"measures|what were|which (?:[a-z-]+ )?{_PLURAL})\b", re.IGNORECASE)


@dataclass
class QuestionKind:
    answer_type: str | None  # date | number | name | place | words (a quotation) | None
    is_list: bool


# A question may open with a clause that sets the scene ("After meeting Wang Yi, which leader ..."); what it asks for
# is typed from the main clause after the comma.
_LEADING_CLAUSE = re.compile(r"^(?:after|before|since|following|during|in|at|on|by|until|besides|apart from|"
                             r"according to|as|when|once|while)\b[^,?]*,\s*")


# "For how long", "To whom", "From where": a preposition before the question word asks what the word asks
_PREPOSITION = r"(?:for|to|from|with|by|in|at|on|of|under|over|against|among|between|during|into|within|through)"


@lru_cache(maxsize=1024)  # typed_candidates asks it of every candidate sentence
def _asked(question: str) -> str:
    """The lower-cased part of a question that says what it asks for: its main clause, without a leading "about"
    and without a preposition before its question word."""
    q = question.lower().strip(" \t\n,;:")  # a time scope cut from its front may leave its comma
    main = re.sub(r"^(?:about|roughly|approximately|around|and|so|then)\s+", "", _LEADING_CLAUSE.sub("", q))
    main = re.sub(rf"^{_PREPOSITION}\s+(?=(?:how|who|whom|whose|where|when)\b)", "", main)
    return main if re.match(rf"(when|what|which|who|whom|whose|where|how|{_PREPOSITION} (what|which))\b", main) else q


# the units a date is asked in ("In what year", "On which day of the week")
_ASKED_UNITS = r"(?:day of the week|years?|date|day|month|decade|century)"
_ASKED_UNIT = re.compile(rf"\b(?:what|which)\s+({_ASKED_UNITS})\b", re.IGNORECASE)


def asked_unit(question: str) -> str:
    """The unit a question asks a date in ("year" for "In which year ...?"), else "": it names the kind of answer,
    which a sentence gives as "1979" or "Monday", not a word the sentence must hold."""
    unit = _ASKED_UNIT.search(question)
    return unit.group(1) if unit else ""


def question_kind(question: str) -> QuestionKind:
    q = question.lower().strip(" \t\n,;:")
    q_typed = _asked(question)
    # "In what year", "On which day of the week", "By which year": a date, as "When" is
    if re.match(rf"(when|({_PREPOSITION} )?(what|which) {_ASKED_UNITS})\b", q_typed):
        kind = "date"
    elif re.match(r"(how (many|much|long|old|often)|what (percentage|number|share))\b", q_typed):
        kind = "number"
    elif re.match(rf"(who|whom|whose|which ([a-z.-]+ ){{0,2}}{_ROLE})\b", q_typed):
        kind = "name"
    elif re.match(r"(where|in (what|which) (city|country|place)|what (city|country|place))\b", q_typed):
        kind = "place"
    elif re.match(r"how (did|does|do|would|has|have) .*\b(describ|characteri[sz]|call|term|view|assess|see|sum|"
                  r"portray|hail|prais)", q_typed):
        kind = "words"
    else:
        kind = None
    parts = len(re.findall(r"\b(and|also)\b", q)) > 0 and len(re.findall(r"\b(what|who|when|where|how|which)\b", q)) > 1
    # A date, a count or a place is one value, whatever the question mentions ("When were the finalists announced?",
    # "How many points did they score?"); "How did X describe Y?" is answered by all of X's words on it, as a list is
    # by all its parts.
    cued = kind not in ("date", "number", "place") and bool(_LIST_CUES.search(q))
    return QuestionKind(kind, cued or parts or kind == "words")


def is_date(text: str) -> bool:
    """Whether the text is only a time expression ("Nov. 24", "in November", "November", "Monday", "January 1,
    1979")."""
    text = text.strip()
    return bool(_PATTERNS["date"].fullmatch(text) or re.fullmatch(_MONTH, text))


_TITLES = {"mr", "mrs", "ms", "dr", "president", "secretary"}
_DURATION = re.compile(r"\b(?:seconds?|minutes?|hours?|days?|weeks?|months?|years?|decades?)\b", re.IGNORECASE)
_YEAR = re.compile(r"^(?:19|20)\d\d$")
_DATE_UNIT = re.compile(r"\b(?:what|which) (day of the week|years?|decade|century)\b")
_UNIT_FITS = {"day of the week": re.compile(_WEEKDAY), "year": re.compile(r"\b\d{4}\b"),
              "decade": re.compile(r"\b\d{3}0s\b"), "century": re.compile(rf"\b{_CENTURY}\b")}


def typed_candidates(kind: str, question: str, sentence: str) -> list[tuple[tuple[int, int], float]]:
    """Spans of the sentence that could answer a question of this kind, with a strength: 1 for a good fit, 0.5 for a
    weaker one ("how many representatives" fits "30 representatives" better than "8, 2024"). Spans made only of the
    question's own words are left out."""
    q = question.lower()
    q_words = set(re.findall(r"\w+", q))
    asked = _asked(question)
    counted = re.match(r"how many ([a-z]+)", asked)
    counted = counted.group(1).rstrip("s") if counted else None
    unit = _DATE_UNIT.search(q) if kind == "date" else None
    role = _ASKED_ROLE.search(q) if kind == "name" else None
    fits = _UNIT_FITS[unit.group(1).rstrip("s")] if unit else None
    # a dateline's or caption's place is where, never who ("New York, U.S., January 8, 2024")
    places = [p.span() for p in re.finditer(_DATELINE_PLACE, sentence)] if kind == "name" else []
    out = []
    for m in _PATTERNS[kind].finditer(sentence):
        words = re.findall(r"\w+", m.group(0).lower())
        if not words or set(words) - _TITLES <= q_words:
            continue  # only the question's own words ("Mr Blinken" for "Who did Blinken meet?")
        if any(start < m.end() and m.start() < end for start, end in places):
            continue
        strength, span = 1.0, m.span()
        if kind == "number":
            following = sentence[m.end():m.end() + 30].lower()
            if _YEAR.match(m.group(0)) or re.search(_MONTH, sentence[max(0, m.start() - 12):m.start()]):
                continue  # a year or a day of the month is not a count
            if counted:
                strength = 1.0 if counted in m.group(0).lower() or counted in following.split()[:3] else 0.5
                if m.group("noun"):  # the count answers "how many"; the counted noun is the question's own
                    span = (m.start(), m.start("noun"))
            elif asked.startswith("how long"):
                # a count of units ("five years"); "second" alone is an ordinal ("their second meeting")
                strength = 1.0 if _DURATION.search(m.group(0)) and not _DURATION.fullmatch(m.group(0)) else 0.5
        elif fits is not None:  # "which day of the week" is answered by the weekday alone, "what year" by the year
            part = fits.search(m.group(0))
            strength = 1.0 if part else 0.5
            if part:
                span = (m.start() + part.start(), m.start() + part.end())
        elif kind == "words":  # the words themselves, without the quotation marks; a short quotation fits best
            group = 1 if m.group(1) else 2
            span = m.span(group)
            strength = 1.0 if group == 1 and len(m.group(1)) <= 60 else 0.5
        elif role is not None:  # "Which US president" fits "U.S. President Donald Trump" better than "Xinhua"
            titled = re.split(rf"\b{role.group('role')}s?\b", m.group(0).lower())
            if len(titled) > 1 and set(re.findall(r"\w+", titled[-1])) <= q_words:
                continue  # "Chinese President Xi Jinping" for a question that names Xi Jinping
            if role.group("role") in _TELLING_ROLES:
                strength = 1.0 if _holds_role(role.group("role"), sentence, m.start(), m.end()) else 0.5
        elif kind == "place" and sentence[max(0, m.start() - 3):m.start()] in ("to ", "om "):
            strength = 0.5  # "to Biden", "from Xi": a name after "to" or "from" is as often a person as a place
        out.append((span, strength))
    return out


def role_holders(question: str, sentences: list[str]) -> list[str]:
    """The names the sentences give the telling role a question asks for ("Which US president ...?" -> "President
    Joe Biden"), in order; none when it asks for no such role."""
    role = _ASKED_ROLE.search(question.lower())
    if role is None or role.group("role") not in _TELLING_ROLES:
        return []
    return [text[start:end] for text in sentences for (start, end), strength in typed_candidates("name", question, text)
            if strength == 1.0]


def _holds_role(role: str, sentence: str, start: int, end: int) -> bool:
    """Whether the name at ``start:end`` is given the role: in its title ("President Donald Trump"), just after it
    ("top diplomat Wang Yi"), or in an apposition after it ("Wang Yi, China's top diplomat")."""
    before, name = sentence[max(0, start - 40):start].lower(), sentence[start:end].lower()
    after = sentence[end:end + 60].lower()
    return bool(re.search(rf"\b{role}s?\b", name) or re.search(rf"\b{role}\s+$", before)
                or re.match(rf",\s+(?:[\w'\u2019.-]+\s+){{0,3}}{role}\b", after))


# "What did Trump say about ...?", "How did Biden describe ...?": the question asks for someone's words, and a
# sentence that gives another's ("Xi said ...") does not answer it however close its words are.
_ASKING_VERBS = r"(?:say|tell|call|warn|demand|stress|note|urge|ask|add|describe|characteri[sz]e|term|praise|hail|" \
                r"insist|write|announce|pledge|promise|claim|blame|accuse|reply|respond)"
_TELLING_VERBS = r"(?:said|says|told|tells|called|calls|warned|warns|demanded|stressed|noted|urged|asked|added|" \
                 r"described|characteri[sz]ed|termed|praised|hailed|insisted|wrote|announced|pledged|promised|" \
                 r"claimed|blamed|accused|replied|responded|outlined|underscored|emphasi[sz]ed|stated|remarked)"
_CAPITAL = r"[A-Z][\w'\u2019-]*"
_TITLE_WORDS = {"Mr", "Mrs", "Ms", "Dr", "President", "Secretary", "Premier", "Minister", "US", "U.S.", "Chinese",
                "American"}
_FUNCTION_WORDS = set(re.findall(r"\w+", _NOT_NAMES))  # "He said", "The ... said" name no one
# only where what is asked is their words ("What did he praise?"), not where or when they spoke ("On which network
# did he praise it?")
_ASKED_SPEAKER = re.compile(rf"\b(?i:what|how|why)(?:\s+[a-z]+){{0,3}}\s+(?:did|does|do|has|have|had|would)\s+"
                            rf"(?P<who>he|she|{_CAPITAL}(?:\s+{_CAPITAL}){{0,3}})\s+(?:also\s+)?{_ASKING_VERBS}\b")
# who a sentence gives the words of: the name just before the verb ("President Xi Jinping said", "Mr Wang told"), or
# just after a "said" put first ("... , said Trump")
_SPEAKER_BEFORE = re.compile(rf"(?<![\w'\u2019-])(?P<who>{_CAPITAL}(?:\s+{_CAPITAL}){{0,3}})\s+(?:also\s+)?"
                             rf"{_TELLING_VERBS}\b")
_SPEAKER_AFTER = re.compile(rf"\b(?:said|says|added|noted|wrote)\s+(?P<who>{_CAPITAL}(?:\s+{_CAPITAL}){{0,2}})")


def asked_speaker(question: str) -> str | None:
    """Whose words the question asks for ("What did Wang Yi ask ...?" -> "Wang Yi"); None when it asks for no one's,
    or names them only by a pronoun ("What did he say?", which the conversation resolves first)."""
    m = _ASKED_SPEAKER.search(question)
    return m.group("who") if m and m.group("who") not in ("he", "she") else None


def speaker_pronoun(question: str) -> tuple[int, int] | None:
    """Where a question for someone's words names them by a pronoun ("What did he say?"), for the conversation to
    name them."""
    m = _ASKED_SPEAKER.search(question)
    return m.span("who") if m and m.group("who") in ("he", "she") else None


def speaker_fit(speaker: str, sentence: str) -> float | None:
    """1 when the sentence gives the speaker's words, 0 when it gives only others' ("Xi said" for Trump), None when
    it names no one speaking ("he said", or no speech)."""
    wanted = _speaker_words(speaker)
    said = [m.group("who") for m in _SPEAKER_BEFORE.finditer(sentence)]
    said += [m.group("who") for m in _SPEAKER_AFTER.finditer(sentence)]
    said = [words for words in map(_speaker_words, said) if words]
    if not said:
        return None
    return 1.0 if any(wanted & words for words in said) else 0.0


def name_words(name: str) -> list[str]:
    """A name's words without its possessive ("Antony Blinken's" -> Antony, Blinken)."""
    return re.sub(r"['\u2019]s\b", "", name).split()


def untitled(name: str) -> str:
    """A name without the titles before it ("US President Joe Biden" -> "Joe Biden"); a title alone stays."""
    words = name.split()
    while len(words) > 1 and words[0] in _TITLE_WORDS:
        words = words[1:]
    return " ".join(words)


def _speaker_words(name: str) -> set[str]:
    return set(name_words(name)) - _TITLE_WORDS - _FUNCTION_WORDS
