"""`laneway economics`: cost per million tokens self-hosted, against the provider's price.

Reads services, endpoints, replicas, clusters and classes through the API and hands them to
the pure `laneway.economics.report`; this module only fetches and prints.
"""

from __future__ import annotations

import dataclasses
import json
import time

import click

from laneway.api.kinds.common import parse_duration
from laneway.api.kinds.deployment import ModelReplica
from laneway.api.kinds.platform import InferenceClass, InferenceCluster
from laneway.api.kinds.serving import ModelEndpoint, ModelService
from laneway.cli.context import (
    DEFAULT_NAMESPACE,
    connection_options,
    namespace_option,
    open_client,
)
from laneway.cli.output import render_table
from laneway.client import Client
from laneway.economics.capacity import Window
from laneway.economics.report import Fleet, Report, ServiceEconomics, report


def _money(value: float | None, currency: str) -> str:
    return "-" if value is None else f"{value:.4f} {currency}"


def _fleet(client: Client, namespace: str, service: str | None) -> Fleet:
    """The namespace's objects. Every service, even when one is named (its get says when it is
    not there): the namespace's spend counts all of its services' external tokens."""
    if service:
        client.get(ModelService, service, namespace=namespace)
    return Fleet(
        services=client.list(ModelService, namespace=namespace).items,
        endpoints=client.list(ModelEndpoint, namespace=namespace).items,
        replicas=client.list(ModelReplica, namespace=namespace).items,
        clusters={c.metadata.name: c for c in client.list(InferenceCluster).items},
        classes={c.metadata.name: c for c in client.list(InferenceClass).items},
    )


def _target(target: str | None) -> str | None:
    if target is None:
        return None
    kind, _, name = target.partition("/")
    if not name or kind.lower() not in ("ms", "modelservice", "modelservices"):
        raise click.BadParameter(
            f"{target!r}: name one service as ms/NAME (e.g. ms/chat), or leave it out for the namespace"
        )
    return name


def _service_lines(s: ServiceEconomics) -> list[str]:
    c = s.currency
    lines = [
        f"modelservice/{s.name} (namespace {s.namespace}) over {s.span.hours:.2f} h",
        (
            f"  self-hosted: {s.self_hosted_tokens.total} tokens ({s.self_hosted_tokens.prompt} in, "
            f"{s.self_hosted_tokens.completion} out), capacity {_money(s.capacity_cost, c)}, "
            f"per million tokens {_money(s.cost_per_million, c)}"
        ),
    ]
    if s.compared_with:
        lines.append(
            f"  bought from {s.compared_with}: the same tokens {_money(s.same_tokens_bought, c)}, "
            f"per million {_money(s.bought_per_million, c)}"
        )
        if s.break_even_tokens_per_hour is not None:
            share = (
                s.tokens_per_hour / s.break_even_tokens_per_hour
                if s.break_even_tokens_per_hour
                else 0.0
            )
            lines.append(
                f"  break-even at {s.break_even_tokens_per_hour:.0f} tokens/h; the service ran "
                f"{s.tokens_per_hour:.0f} tokens/h ({share:.1%} of it)"
            )
    else:
        lines.append("  no priced Overflow or BreakGlass endpoint to compare with")
    if s.deployments:
        rows = [
            [
                d.name,
                str(d.replicas),
                _money(d.capacity_cost, c),
                str(d.tokens.total),
                _money(d.cost_per_million, c),
            ]
            for d in s.deployments
        ]
        lines.append(
            render_table(
                rows, ["DEPLOYMENT", "REPLICAS", "CAPACITY", "TOKENS", "PER-MILLION"]
            )
        )
    if s.providers:
        rows = [
            [
                p.endpoint,
                p.tier,
                str(p.tokens.total),
                _money(p.cost, p.price.currency if p.price else c),
            ]
            for p in s.providers
        ]
        lines.append(render_table(rows, ["PROVIDER", "TIER", "TOKENS", "SPEND"]))
    lines.extend(f"  note: {p}" for p in s.problems)
    return lines


def render(r: Report) -> str:
    out: list[str] = []
    for s in r.services:
        out.extend(_service_lines(s))
        out.append("")
    rows = [
        [
            n.namespace,
            f"{n.span.hours:.2f} h",
            _money(n.self_hosted, n.currency),
            _money(n.external, n.currency),
        ]
        for n in r.namespaces
    ]
    out.append(
        "spend per namespace, over its span (capacity and external tokens alike, "
        "from when its token totals began; the window when none are known)"
    )
    out.append(render_table(rows, ["NAMESPACE", "SPAN", "SELF-HOSTED", "EXTERNAL"]))
    out.extend(f"  note ({n.namespace}): {p}" for n in r.namespaces for p in n.problems)
    return "\n".join(out)


@click.command("economics")
@click.argument("target", required=False, metavar="[ms/NAME]")
@click.option(
    "--window",
    default="7d",
    show_default=True,
    help="How far back to look (e.g. 1h, 7d).",
)
@click.option(
    "-o",
    "--output",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
)
@namespace_option
@connection_options
@click.pass_context
def economics(
    ctx: click.Context,
    target: str | None,
    window: str,
    output: str,
    namespace: str | None,
) -> None:
    """Cost per million tokens of each service's self-hosted replicas over the window, what the
    same tokens would cost at its Overflow (or BreakGlass) provider's price, the break-even
    rate, and each namespace's spend, self-hosted and external."""
    try:
        seconds = parse_duration(window)
    except ValueError as e:
        raise click.BadParameter(
            f"{window!r}: {e}; write a duration such as 1h or 7d", param_hint="--window"
        ) from e
    if seconds <= 0:
        raise click.BadParameter(
            f"{window!r} is no time at all; write a duration such as 1h or 7d",
            param_hint="--window",
        )
    client = open_client(ctx)
    now = time.time()
    name = _target(target)
    result = report(
        _fleet(client, namespace or DEFAULT_NAMESPACE, name),
        Window(now - seconds, now),
        service=name,
    )
    if output == "json":
        click.echo(json.dumps(dataclasses.asdict(result), indent=2))
    else:
        click.echo(render(result))
