"""Review of audio_dataset_from_directory (audiorev): a WAV cut short inside its header."""
import numpy as np
import pytest

from glassnet.audio_folders import read_wav


@pytest.mark.parametrize("content", [b"", b"RIFF", b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00"])
def test_a_header_cut_short_is_said_to_be_cut_short(tmp_path, content):
    # the wave module raises an EOFError without words there: the message said "(...samples ())"
    path = tmp_path / "cut.wav"
    path.write_bytes(content)
    with pytest.raises(ValueError) as caught:
        read_wav(path)
    message = str(caught.value)
    assert "cut.wav" in message and message.endswith("(cut short)"), message


def test_a_readable_wav_still_reads(tmp_path):
    import wave
    with wave.open(str(tmp_path / "a.wav"), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(8000)
        f.writeframes(np.int16([1, -2]).tobytes())
    samples, rate = read_wav(tmp_path / "a.wav")
    assert rate == 8000 and samples.tolist() == [[1 / 32768], [-2 / 32768]]
