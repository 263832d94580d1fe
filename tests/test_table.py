"""symgrad.table: the one text-table writer, against tables written out by hand."""

from symgrad.table import format_table


def test_columns_are_as_wide_as_their_widest_cell_and_two_spaces_apart():
    lines = format_table(("param", "exact", "verdict"), [("w1", "0.5", "ok"), ("bias_long", "-12.25", "mismatch")])
    assert "\n".join(lines) == (
        "param      exact   verdict\n"
        "w1         0.5     ok\n"
        "bias_long  -12.25  mismatch"
    )


def test_no_line_ends_in_spaces_and_the_last_column_is_never_padded():
    lines = format_table(("line", "verdict", "explanation"),
                         [("3", "wrong", "you used w5 before the update"), ("12", "ok", "")])
    assert lines == [
        "line  verdict  explanation",
        "3     wrong    you used w5 before the update",
        "12    ok",
    ]


def test_an_indent_starts_every_line_and_a_wide_header_sets_the_width():
    lines = format_table(("parameter", "error"), [("w", "1.00e-01")], indent="  ")
    assert lines == ["  parameter  error", "  w          1.00e-01"]


def test_a_header_alone_is_one_line():
    assert format_table(("a", "bb"), []) == ["a  bb"]
