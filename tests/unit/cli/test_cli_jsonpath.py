"""kubectl's `-o jsonpath=` templates over jsonpath-ng: the template layer, kubectl's escapes,
and the printing rules (spaces between results, raw strings, compact JSON, missing is empty)."""

from __future__ import annotations

import pytest

from laneway.cli.jsonpath import TemplateError, format_value, parse_template, to_standard

LIST = {
    "apiVersion": "v1",
    "kind": "List",
    "items": [
        {
            "metadata": {"name": "chat", "labels": {"laneway.dev/deployment": "chat", "where": "eu"}},
            "spec": {"replicas": 2, "paused": False},
            "status": {"phase": "Ready", "endpoint": "http://127.0.0.1:9000"},
        },
        {"metadata": {"name": "embed"}, "spec": {"replicas": 0}, "status": {"phase": "Pending"}},
    ],
}


def render(template: str) -> str:
    return parse_template(template).render(LIST)


def test_paths_print_their_results_separated_by_spaces() -> None:
    assert render("{.items[*].metadata.name}") == "chat embed"
    assert render("{.items[*].spec.replicas}") == "2 0"
    assert render("{.items[0].spec.paused}") == "false"
    assert render("{$.kind}") == "List"
    assert render("names: {.items[*].metadata.name}!") == "names: chat embed!"
    assert render('{"}"}{.kind}{\'{\'}') == "}List{", "braces inside a quoted literal do not end the action"


def test_range_reads_each_element_and_dollar_reads_the_root() -> None:
    template = '{range .items[*]}{.metadata.name}{"\\t"}{@.status.phase}{"\\n"}{end}'
    assert render(template) == "chat\tReady\nembed\tPending\n"
    assert render("{range .items[*]}[{$.kind}/{.metadata.name}]{end}") == "[List/chat][List/embed]"
    assert render("{range .items}{.metadata.name},{end}") == "chat,embed,"


def test_filters_slices_unions_and_recursive_descent() -> None:
    assert render('{.items[?(@.status.phase=="Ready")].metadata.name}') == "chat"
    assert render("{.items[?(@.spec.replicas>1)].metadata.name}") == "chat"
    assert render("{.items[-1:].metadata.name}") == "embed"
    assert render("{.items[0:1].metadata.name}") == "chat"
    assert render("{..name}") == "chat embed"
    assert render("{.items[0].metadata['name','labels']}").startswith("chat {")


def test_escaped_dots_and_keywords_are_keys() -> None:
    assert render("{.items[0].metadata.labels.laneway\\.dev/deployment}") == "chat"
    assert render("{.items[0].metadata.labels['laneway.dev/deployment']}") == "chat"
    assert render("{.items[0].metadata.labels.where}") == "eu", "jsonpath-ng's keyword `where` is a plain key here"
    assert to_standard(".a\\.b.c") == '."a.b"."c"'


def test_maps_print_as_compact_json_and_missing_keys_print_nothing() -> None:
    assert render("{.items[1].status}") == '{"phase":"Pending"}'
    assert render("{.items[1].status.endpoint}") == ""
    assert render("{.nothing.here}") == ""
    assert format_value(None) == "" and format_value(2.0) == "2" and format_value(0.5) == "0.5"


@pytest.mark.parametrize(
    ("template", "says"),
    [
        ("{.items", "never closed"),
        ("{end}", "closes no `{range}`"),
        ("{range .items[*]}{.x}", "not closed"),
        ("{.items[}", "never closed: add `]`"),
        ("{}", "empty"),
        ('{"abc}', "never closed"),
        ("{.items[?(@.x==)]}", "cannot parse the path"),
    ],
)
def test_bad_templates_say_what_is_wrong(template: str, says: str) -> None:
    with pytest.raises(TemplateError) as error:
        parse_template(template)
    assert says in str(error.value)
    assert template in str(error.value), "the message quotes the template"
