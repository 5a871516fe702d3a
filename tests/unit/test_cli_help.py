"""Every command-line argument says what it does; `behaviorlab envs` names the families and the
import forms `env:` takes."""

from __future__ import annotations

import argparse

from behaviorlab.platform.cli import build_parser, main


def _arguments(parser: argparse.ArgumentParser, path: str):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _arguments(sub, f"{path} {name}")
        elif not isinstance(action, argparse._HelpAction):
            yield f"{path} {action.dest}", action.help


def test_every_argument_has_help_text():
    arguments = dict(_arguments(build_parser(), "behaviorlab"))
    assert "behaviorlab eval video" in arguments and "behaviorlab run overrides" in arguments
    assert [name for name, text in arguments.items() if not text] == []


def test_envs_lists_a_family_and_the_import_forms(capsys):
    assert main(["envs", "--family", "seals"]) == 0
    out = capsys.readouterr().out
    assert "seals (" in out and "seals/CartPole-v0" in out and "ALE/Pong-v5" not in out
    assert "my_pkg:MyEnv-v0" in out and "my_pkg.envs:MyEnv" in out
    assert main(["envs", "--family", "sea"]) == 2
    assert "valid: " in capsys.readouterr().err


def test_a_missing_extra_is_named_in_one_line(monkeypatch, capsys):
    import behaviorlab.platform.cli as cli

    def needs_av(args):
        raise ModuleNotFoundError("No module named 'av'", name="av")

    monkeypatch.setattr(cli, "_algorithms", needs_av)
    assert main(["algorithms"]) == 2
    assert capsys.readouterr().err == ("error: this needs the av package, part of an optional extra: "
                                       "pip install 'behaviorlab[ptgm]'\n")
