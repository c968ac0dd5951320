from qa.text import split_sentences, tokenize


def sentences(text):
    return [text[s:e] for s, e in split_sentences(text)]


def test_abbreviations_do_not_end_sentences():
    text = ("BEIJING, Nov. 24 (Xinhua) -- Chinese President Xi Jinping said on Monday that China and the U.S. should "
            "keep up the momentum. Mr. Xi spoke with Mr Trump. Dr. J. Smith agreed.")
    assert sentences(text) == [
        "BEIJING, Nov. 24 (Xinhua) -- Chinese President Xi Jinping said on Monday that China and the U.S. should keep "
        "up the momentum.",
        "Mr. Xi spoke with Mr Trump.",
        "Dr. J. Smith agreed.",
    ]


def test_us_at_the_end_of_a_sentence():
    assert sentences("He met the U.S. The talks went well. Ties with the U.S. President improved.") == [
        "He met the U.S.", "The talks went well.", "Ties with the U.S. President improved."]


def test_quotes_end_with_the_sentence():
    text = ('"We are restarting cooperation," Biden said. "It\'s going to save lives." '
            '\u201cThis is going to be a process,\u201d one official said. Why? \u201cBecause.\u201d')
    assert sentences(text) == [
        '"We are restarting cooperation," Biden said.', '"It\'s going to save lives."',
        "\u201cThis is going to be a process,\u201d one official said.", "Why?", "\u201cBecause.\u201d"]


def test_offsets_are_relative_to_the_whole_text():
    text = "Header\n\nFirst one. Second one."
    spans = split_sentences(text, 8, len(text))
    assert [text[s:e] for s, e in spans] == ["First one.", "Second one."]
    assert spans[0][0] == 8


def test_hard_wrapped_lines_stay_one_sentence():
    text = "The two presidents met in\nperson for the first time. Then\nthey parted."
    assert sentences(text) == ["The two presidents met in\nperson for the first time.", "Then\nthey parted."]


def test_tokenize_lowercases_stems_and_drops_stopwords():
    assert tokenize("The Meetings of the U.S. secretary, in 2023!") == ["meet", "secretari", "2023"]
    assert tokenize("China\u2019s leaders") == ["china", "leader"]
