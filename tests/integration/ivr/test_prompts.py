"""Prompt generation with the real espeak-ng and sox."""

import array
import math
import wave
from pathlib import Path

import pytest

from ivr.core.speech import PIECE_TEXTS
from ivr.prompts import PromptError, PromptResolver, generate, load_catalog, tools_missing

if tools_missing():  # pragma: no cover - the project's install step adds both packages
    pytest.fail(f"{', '.join(tools_missing())} missing: apt-get install espeak-ng sox")


def rms(path: Path) -> tuple[int, int, int, float]:
    with wave.open(str(path)) as w:
        frames = w.readframes(w.getnframes())
        samples = array.array("h", frames)
        level = math.sqrt(sum(s * s for s in samples) / max(1, len(samples)))
        return w.getframerate(), w.getnchannels(), w.getsampwidth(), level


def test_every_prompt_of_the_list_is_spoken_as_8khz_mono_16bit_wav(tmp_path: Path) -> None:
    catalog = load_catalog()
    result = generate(tmp_path, catalog, jobs=8)
    assert result == {"generated": len(catalog), "unchanged": 0, "total": len(catalog)}
    for name in catalog:
        rate, channels, width, level = rms(tmp_path / f"{name}.wav")
        assert (rate, channels, width) == (8000, 1, 2), name
        assert level > 300, f"{name} is silent (rms {level:.0f})"
    with wave.open(str(tmp_path / "welcome.wav")) as w:
        assert 2.0 < w.getnframes() / 8000 < 15.0  # a spoken sentence, not a click or a minute of noise


def test_ulaw_and_sln16_copies_have_the_right_sizes(tmp_path: Path) -> None:
    generate(tmp_path, {"num_5": PIECE_TEXTS["num_5"]}, formats=("wav", "ulaw", "sln16"))
    with wave.open(str(tmp_path / "num_5.wav")) as w:
        frames = w.getnframes()
    ulaw = (tmp_path / "num_5.ulaw").stat().st_size  # one byte a sample at 8 kHz
    sln16 = (tmp_path / "num_5.sln16").stat().st_size  # two bytes a sample at 16 kHz
    assert abs(ulaw - frames) <= 8
    assert abs(sln16 - 4 * frames) <= 32


def test_unchanged_prompts_are_kept_and_a_changed_text_is_spoken_again(tmp_path: Path) -> None:
    catalog = {"a": "您好", "b": "再见"}
    generate(tmp_path, catalog)
    before = (tmp_path / "a.wav").stat().st_mtime_ns
    assert generate(tmp_path, catalog)["generated"] == 0
    assert generate(tmp_path, {**catalog, "b": "感谢来电"})["generated"] == 1
    assert (tmp_path / "a.wav").stat().st_mtime_ns == before
    assert generate(tmp_path, catalog, force=True)["generated"] == 2


def test_an_operator_recording_overrides_the_generated_prompt(tmp_path: Path) -> None:
    gen, override = tmp_path / "gen", tmp_path / "override"
    generate(gen, {"welcome": "您好", "goodbye": "再见"})
    override.mkdir()
    (override / "welcome.sln16").write_bytes(b"\0\0" * 16000)
    (override / "extra_notice.wav").write_bytes((gen / "goodbye.wav").read_bytes())
    r = PromptResolver(gen, override)
    assert r.find("welcome") == override / "welcome.sln16"
    assert r.find("goodbye") == gen / "goodbye.wav"
    assert r.media_uri("goodbye") == "sound:" + str((gen / "goodbye").resolve())
    assert {"welcome", "goodbye", "extra_notice"} <= r.available()
    with pytest.raises(PromptError, match="prompt 'nothing' not found"):
        r.find("nothing")


def test_missing_tools_and_bad_formats_are_clear_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(PromptError, match="unknown format 'mp3'"):
        generate(tmp_path, {"a": "您好"}, formats=("mp3",))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PromptError, match="espeak-ng and sox not installed: apt-get install espeak-ng sox"):
        generate(tmp_path, {"a": "您好"})
