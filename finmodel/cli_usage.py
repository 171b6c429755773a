"""The ``finmodel`` command's usage errors, one line each, and user text shown safely.

typer (through the click it bundles) reports a mistyped command line -- a value that is not a
number, an unknown option or command, an option without its value, a missing or an extra
argument -- as a usage block in a box. :class:`Commands`, the command group of
:data:`finmodel.cli.app`, prints one line instead, in the form of finmodel's other bad-input
messages, and exits with code 2::

    error: --draws: expected a whole number of paths of 1 or more, got 'abc'
    error: --drawz: not an option of finmodel simulate (did you mean --draws?); see ...

The option is named by its long form whichever spelling was typed (``-n`` is ``--draws``).
What was typed is quoted with its control characters escaped (:func:`shown`), and every line
is written as plain text: nothing in it is read as console markup, and no control character
reaches the terminal (:func:`printable`). ``finmodel`` alone and ``--help`` print the help
as before.

typer includes its own copy of click from version 0.26 on, in a private module; the usage
errors are recognised by their click class names (``UsageError``, ``NoSuchOption``...), as
typer itself recognises ``NoArgsIsHelpError``, so nothing here imports that module.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from difflib import get_close_matches
from enum import Enum
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, NoReturn, cast, get_args, get_origin

import typer
from typer.core import TyperArgument, TyperGroup

if TYPE_CHECKING:
    from typer._click import Context, Parameter

EXIT_BAD_INPUT = 2

EXPECTED: dict[str, str] = {
    # arguments
    "FILE": "an assumption file, or a shipped scenario's name",
    "FILES": "assumption files, or shipped scenarios' names",
    "SCENARIO": "the company's assumption file, or a shipped scenario's name",
    # options; "COMMAND --option" where one command gives the option another meaning
    "--alpha": "a share of the paths above 0 and below 1, such as 0.05",
    "--as-of": "a month like 2027-06",
    "--base": "a power of 2 such as 1024",
    "--bracket": "LOW:HIGH such as 0:4",
    "--chunk": "a whole number of paths per chunk, 1 or more",
    "--draws": "a whole number of paths of 1 or more",
    "network --draws": "a whole number of Monte Carlo paths (0 for none)",
    "--grid-x": "PATH=START:STOP:COUNT such as revenue.scale=0.5:1.5:11",
    "--grid-y": "PATH=START:STOP:COUNT such as revenue.scale=0.5:1.5:11",
    "--implied": "a positive equity value of at most 1e15 (the file's unit)",
    "--metric": "a metric such as funding_gap.2030",
    "--network": "a network file, or a shipped network's name",
    "--op": "one of: set, scale, shift",
    "--out": "a workbook path ending in .xlsx",
    "--param": "PATH or PATH=LOW:HIGH such as revenue.scale=0.8:1.2",
    "--pct": "a fraction above 0 and below 1 such as 0.2 (±20%)",
    "--pricing": "a pricing rule: last_round, raise_policy, pre_money=X or post_money=X",
    "--sampler": "one of: lhs, random",
    "--scale": "PATH=FACTOR such as revenue.annual=1.2",
    "--seed": "a whole number from 0 to 2^128 - 1",
    "--set": "PATH=VALUE such as funding.min_cash=10",
    "--shift": "PATH=AMOUNT such as opening.cash=5",
    "--shortfall": "a fraction of the take-or-pay obligations such as 0.3",
    "--target": "METRIC=VALUE such as funding_gap.2030=0",
    "--top": "a whole number of bars, 0 or more",
    "--validation-draws": "a whole number of paths of 1 or more",
    "--vary": "a parameter path such as revenue.scale",
}
"""What each argument and option takes, in the words of the error messages; an option not
listed is described by its type (a whole number, a number, one of its choices)."""

_BY_TYPE: dict[Any, str] = {int: "a whole number", float: "a number", bool: "true or false"}


def shown(text: object) -> str:
    """``text`` quoted for a message, its control and other unprintable characters escaped:
    ``shown("a\\nb") == "'a\\\\nb'"``."""
    return repr(str(text))


def bare(text: object) -> str:
    """``text`` as typed when every character of it is printable, else :func:`shown`."""
    s = str(text)
    return s if s.isprintable() else shown(s)


def has_control(text: object) -> bool:
    """Whether ``text`` holds a control character (Unicode category Cc: C0, DEL and C1, such
    as a newline, a tab, an escape), which no argument or option of finmodel's may hold."""
    return any(unicodedata.category(ch) == "Cc" for ch in str(text))


def printable(message: str) -> str:
    """``message`` with its control characters escaped (``\\x1b``, ``\\r``), newlines aside:
    a message of several lines stays so, and nothing reaches the terminal as a command."""
    return "".join(
        ch
        if ch == "\n" or unicodedata.category(ch) != "Cc"
        else ch.encode("unicode_escape").decode()
        for ch in message
    )


def say_error(message: str) -> None:
    """Write ``error: message`` on stderr, as plain text (no markup, no control characters)."""
    typer.echo(f"error: {printable(message)}", err=True)


def fail(message: str) -> NoReturn:
    """:func:`say_error`, then exit with code 2 (bad input)."""
    say_error(message)
    raise typer.Exit(EXIT_BAD_INPUT)


class Commands(TyperGroup):
    """The ``finmodel`` command group: the usage errors of the group and of its commands are
    one line each (:func:`message`) and exit code 2; the help lists values by what they are
    (:func:`readable`)."""

    def get_command(self, ctx: Context, cmd_name: str) -> Any:
        cmd = super().get_command(ctx, cmd_name)
        if cmd is not None:
            readable(cmd.get_params(ctx))
        return cmd

    def format_help(self, ctx: Context, formatter: Any) -> None:
        readable(self.get_params(ctx))
        super().format_help(ctx, formatter)

    def make_context(
        self, info_name: str | None, args: list[str], parent: Context | None = None, **extra: Any
    ) -> Context:
        with _one_line(lambda: self.context_class(self, info_name=info_name, parent=parent)):
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: Context) -> Any:
        def command() -> Context:  # the command being parsed, for errors that lack it
            name = ctx.invoked_subcommand
            cmd = self.get_command(ctx, name) if name else None
            return ctx if cmd is None else cmd.context_class(cmd, info_name=name, parent=ctx)

        with _one_line(command):
            return super().invoke(ctx)

    def resolve_command(self, ctx: Context, args: list[str]) -> tuple[str | None, Any, list[str]]:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            close = get_close_matches(name, self.list_commands(ctx), n=3)
            hint = f" (did you mean {' or '.join(close)}?)" if close else ""
            fail(f"{bare(name)}: not a command of {ctx.command_path}{hint}; see {_help(ctx)}")
        found, cmd, rest = super().resolve_command(ctx, args)
        if cmd is not None and cmd.callback is not None:
            cmd.callback = _without_control(cmd.callback, cmd.params)
        return found, cmd, rest


class _Argument(TyperArgument):
    """An argument shown in the help as its name in capitals (``FILE``, ``[FILE]`` when it
    may be left out, ``FILES...``), without a type column (``<str>``)."""

    def display_type_rich(self, ctx: Context) -> str | None:
        return None

    def get_usage_pieces(self, ctx: Context) -> list[str]:
        name = self.metavar or (self.name or "ARGUMENT").upper()
        shown = name if self.required else f"[{name}]"
        return [shown + ("..." if self.nargs != 1 else "")]


def readable(params: list[Parameter]) -> None:
    """Show ``params`` in the help in words rather than Python types: a switch (``--json``,
    ``--help``) with no value after it (not ``<bool>``), an argument by its name in capitals
    (``FILE``, not ``{file}`` and ``<str>``). Options taking a value name it by their
    ``metavar`` (``PATH=LOW:HIGH``), which every option of finmodel's gives."""
    for p in params:
        if isinstance(p, TyperArgument):
            p.metavar = p.metavar or (p.name or "ARGUMENT").upper()
            if not isinstance(p, _Argument):
                p.__class__ = _Argument
        elif _is_flag(p):
            p.metavar = ""


def _without_control(callback: Callable[..., Any], params: list[Parameter]) -> Callable[..., Any]:
    """``callback`` (a command's body) behind a check of the text it is given: a control
    character (a newline, a tab, an escape) in any argument or option is refused, naming it.
    No file name, path, metric, month or rule finmodel takes holds one, and refusing them
    here keeps every message one line and every output name printable."""
    if getattr(callback, "_checks_text", False):
        return callback

    def checked(*args: Any, **kwargs: Any) -> Any:
        for p in params:
            given = kwargs.get(p.name or "")
            for text in given if isinstance(given, list | tuple) else [given]:
                if isinstance(text, str | PurePath) and has_control(text):
                    raise typer.BadParameter(
                        f"expected no control characters (a newline, a tab, an escape...), "
                        f"got {shown(text)}",
                        param=cast(Any, p),
                    )
        return callback(*args, **kwargs)

    checked._checks_text = True  # type: ignore[attr-defined]
    return checked


@contextmanager
def _one_line(where: Callable[[], Context]) -> Iterator[None]:
    """Turn a usage error into its one line and exit code 2; ``where`` gives the context of
    the command being parsed, for errors raised without one (an option missing its value)."""
    try:
        yield
    except Exception as e:
        kinds = _kinds(e)
        if "UsageError" not in kinds or "NoArgsIsHelpError" in kinds:
            raise  # not a usage error; or `finmodel` alone: the help, as before
        if getattr(e, "ctx", None) is None:
            e.ctx = where()  # type: ignore[attr-defined]
        fail(message(e))


def _kinds(e: BaseException) -> set[str]:
    """The names of the classes ``e`` is an instance of (click's, wherever it lives)."""
    return {c.__name__ for c in type(e).__mro__}


def message(e: Any) -> str:
    """The one-line message (without ``error:``) of a usage error (click's ``UsageError``)."""
    ctx: Context | None = e.ctx
    kinds = _kinds(e)
    param: Parameter | None = getattr(e, "param", None)
    if ctx is None:
        return printable(e.format_message())
    if "NoSuchOption" in kinds:
        return _no_such_option(ctx, e.option_name, e.possibilities)
    if "BadOptionUsage" in kinds:
        param = _param_named(ctx, e.option_name)
        if param is None:
            return f"{bare(e.option_name)}: {printable(e.message)}; see {_help(ctx)}"
        if _is_flag(param):  # --json=yes
            return f"{_name(param)}: expected no value (it is a switch), got one after '='"
        return f"{_name(param)}: expected {_expected(ctx, param)} after it, got nothing"
    if "MissingParameter" in kinds and param is not None:
        return f"{_name(param)}: missing; expected {_expected(ctx, param)}; see {_help(ctx)}"
    if "BadParameter" in kinds and param is not None:
        given = _typed(e)
        if given is None:  # a check of finmodel's own, worded as 'expected ..., got ...'
            return f"{_name(param)}: {printable(e.message)}"
        shown_given = f"{shown(given)}{_hint(param, given)}"
        return f"{_name(param)}: expected {_expected(ctx, param)}, got {shown_given}"
    extra = re.fullmatch(r"Got unexpected extra arguments?(?:\(s\))? \((.*)\)", e.message, re.S)
    if extra:
        return (  # click has escaped its control characters
            f"{ctx.command_path}: expected {_arguments(ctx)}, got another argument "
            f"'{printable(extra.group(1))}'; see {_help(ctx)}"
        )
    return f"{printable(e.format_message())}; see {_help(ctx)}"


def _help(ctx: Context) -> str:
    return f"{ctx.command_path} --help"


def _name(param: Parameter) -> str:
    """The option's long form (``--draws`` for ``-n/--draws``), or the argument in capitals."""
    if param.param_type_name == "argument":
        return (param.name or "ARGUMENT").upper()
    opts = [*param.opts, *param.secondary_opts]
    return next((o for o in opts if o.startswith("--")), opts[0] if opts else str(param.name))


def _param_named(ctx: Context, option: str) -> Parameter | None:
    return next((p for p in ctx.command.params if option in (*p.opts, *p.secondary_opts)), None)


def _is_flag(param: Parameter) -> bool:
    return bool(getattr(param, "is_flag", False))


def _expected(ctx: Context, param: Parameter) -> str:
    """The words of :data:`EXPECTED`, else the parameter's type in words."""
    name = _name(param)
    cmd = ctx.info_name or ""
    if f"{cmd} {name}" in EXPECTED:
        return EXPECTED[f"{cmd} {name}"]
    if name in EXPECTED:
        return EXPECTED[name]
    desc = getattr(param, "type_descriptor", None)
    if desc is None:
        return "a value"
    if desc.choices:
        values = [c.value if isinstance(c, Enum) else c for c in desc.choices]
        return "one of: " + ", ".join(str(v) for v in values)
    kind = desc.annotation
    if get_origin(kind) in (list, tuple) and get_args(kind):
        kind = get_args(kind)[0]
    if isinstance(kind, type) and issubclass(kind, PurePath):
        return "a file path"
    return _BY_TYPE.get(kind, "a value")


def _typed(e: Exception) -> str | None:
    """What was typed for the parameter, when typer's conversion refused it (it keeps the
    text in the pydantic error it raised from); None for a refusal by a callback."""
    errors = getattr(e.__cause__, "errors", None)
    if not callable(errors):
        return None
    found = errors()
    if not found:
        return None
    given = found[0].get("input")
    return None if given is None else str(given)


def _hint(param: Parameter, given: str) -> str:
    """``(write 1000000)`` for a whole number written as ``1e6``."""
    kind = getattr(getattr(param, "type_descriptor", None), "annotation", None)
    if kind is not int:
        return ""
    try:
        x = float(given)
    except ValueError:
        return ""
    if x != x or x in (float("inf"), float("-inf")) or x != int(x):
        return ""
    return f" (write {int(x)})"


def _arguments(ctx: Context) -> str:
    """The arguments a command takes, in words: ``one FILE``, ``at most one FILE``."""
    args = [p for p in ctx.command.params if p.param_type_name == "argument"]
    if not args:
        return "options only"
    words = []
    for p in args:
        many = p.nargs == -1
        count = "one or more" if many else "one" if p.required else "at most one"
        words.append(f"{count} {_name(p)}")
    return " and ".join(words)


def _no_such_option(ctx: Context, opt: str, possibilities: list[str] | None) -> str:
    where = f"not an option of {ctx.command_path}"
    if possibilities:
        where += f" (did you mean {' or '.join(sorted(possibilities))}?)"
    else:
        root = ctx.find_root()
        group = root.command
        others = [
            f"{root.command_path} {n}"
            for n, c in sorted(getattr(group, "commands", {}).items())
            if any(opt in (*p.opts, *p.secondary_opts) for p in c.params)
        ]
        if others:
            where += f" ({' and '.join(others)} take{'s' if len(others) == 1 else ''} it)"
    return f"{bare(opt)}: {where}; see {_help(ctx)}"
