"""A tiny random-weight coqui VITS model (0.7 M parameters, 3 MB) that speaks Hangul and Latin
characters: noise rather than speech, but it goes through coqui's real loading and synthesis
path in well under a second. Needs the coqui extra (scripts/install-coqui.sh)."""

from pathlib import Path

HANGUL_SYLLABLES = "".join(chr(code) for code in range(0xAC00, 0xD7A4))
LATIN = "abcdefghijklmnopqrstuvwxyz0123456789"
PUNCTUATIONS = " !'(),-.:;?\""


def build_tiny_vits(folder: Path) -> Path:
    """Writes config.json and model.pth into `folder` (created); returns it."""
    import torch
    from TTS.tts.configs.shared_configs import CharactersConfig
    from TTS.tts.configs.vits_config import VitsConfig
    from TTS.tts.models.vits import Vits, VitsArgs

    characters = CharactersConfig(
        characters_class="TTS.tts.models.vits.VitsCharacters",
        pad="<PAD>", eos="<EOS>", bos="<BOS>", blank="<BLNK>",
        punctuations=PUNCTUATIONS, phonemes=None, characters=LATIN + HANGUL_SYLLABLES,
    )  # fmt: skip
    args = VitsArgs(
        hidden_channels=32, hidden_channels_ffn_text_encoder=64, num_layers_text_encoder=1,
        num_layers_posterior_encoder=2, num_layers_flow=1, upsample_initial_channel_decoder=32,
        resblock_kernel_sizes_decoder=[3], resblock_dilation_sizes_decoder=[[1, 3, 5]],
        use_sdp=False, init_discriminator=False,
    )  # fmt: skip
    config = VitsConfig(model_args=args, use_phonemes=False, text_cleaner="basic_cleaners", characters=characters)
    # Random weights make near-silence; trimming it would make sentence lengths erratic.
    config.audio.do_trim_silence = False
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    torch.save({"model": Vits(config).state_dict()}, folder / "model.pth")
    config.save_json(str(folder / "config.json"))
    return folder
