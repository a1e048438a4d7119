"""Registered architectures of spacy-bioner. Builders only: the layer's
init/forward are in `bilstm_crf_layer.py`, the Thinc <-> torch conversion in
`bridge.py`, the featurizer in `features.py`.
"""
from spacy.util import registry
from thinc.api import Model

from .bilstm_crf_layer import InputType, OutputType, forward, init, precision_dtype
from .features import Lexicon


@registry.architectures("spacy-bioner.BiLSTMCRF.v2")
def build_bilstm_crf(
    char_embed_size: int = 30,
    char_hidden_size: int = 25,
    word_size: int = 100,
    include_static_vectors: bool = True,
    word_min_count: int = 2,
    hidden_size: int = 100,
    depth: int = 2,
    embed_dropout: float = 0.0,
    input_dropout: float = 0.3,
    output_dropout: float = 0.3,
    recurrent_dropout: float = 0.1,
    max_length: int = 256,
    window_context: int = 32,
    batch_tokens: int = 4096,
    trainable_words: bool = False,
    word_dropout: float = 0.0,
    normalize_digits: bool = False,
    recurrent_mode: str = "weights",
    train_precision: str = "float32",
) -> Model[InputType, OutputType]:
    """A BiLSTM-CRF (Lample et al. 2016) with variational dropout.

    char_embed_size (int): Width of character embeddings.
    char_hidden_size (int): Units per direction of the character BiLSTM.
    word_size (int): Width of the trainable word embedding, used when the
        vocab has no static vectors (or `include_static_vectors` is False).
    include_static_vectors (bool): Use `nlp.vocab.vectors` when it has rows.
    word_min_count (int): Words seen fewer times in training share the
        unknown-word embedding, which is how that embedding gets trained.
    hidden_size (int): Units per direction of each word BiLSTM.
    depth (int): Number of stacked word BiLSTMs.
    embed_dropout (float): Ordinary dropout on the word+character embeddings
        (the papers' baseline uses 0.3 here and no variational dropout).
    input_dropout, output_dropout, recurrent_dropout (float): Variational
        dropout rates of every LSTM layer (the papers' 0.3 / 0.3 / 0.1).
    max_length (int): Longest token window the encoder reads at once; longer
        sentences are read in overlapping windows, never truncated.
    window_context (int): Tokens of context on each side of a window's core.
    batch_tokens (int): Upper bound on padded tokens per torch call.
    trainable_words (bool): With static vectors, also learn a word embedding
        of width `word_size` for the training words seen `word_min_count`
        times (without vectors that embedding is always used).
    word_dropout (float): Training-time probability of replacing a token's
        word vector/embedding with the unknown word's (docs/recipe.md).
    normalize_digits (bool): Key the trainable word embedding by the
        lowercase form with every digit replaced by 0, so "IL-2" and "IL-6"
        share a row; static vectors are looked up unchanged.
    recurrent_mode (str): "weights" (one recurrent mask per batch on the
        columns of W_hh, fused kernel) or "exact" (one mask per sequence on
        h_{t-1}, a loop over time steps); see `torch_modules/lstm.py`.
    train_precision (str): "float32", or "bfloat16" for mixed-precision
        training: the word BiLSTMs and linear layers compute in bfloat16
        while weights, gradients, the optimizer, the char BiLSTM and the CRF
        stay float32. 1.15x the training steps per second of float32 on an
        AMD EPYC with AVX512-BF16 at the same accuracy; slower on CPUs
        without native bfloat16 (docs/recipe.md).
        Prediction is unaffected (see `set_inference_precision`).
    RETURNS (Model): The Thinc model; its torch module is built in `init`.
    """
    precision_dtype(train_precision, "train_precision")  # fails early on an unknown name
    if max_length <= 2 * window_context:
        raise ValueError(f"max_length ({max_length}) must exceed 2 * window_context ({window_context}).")
    # Rates are deliberately not called `dropout_rate`: spaCy's
    # `[training] dropout` would overwrite an attr of that name.
    encoder = dict(
        char_embed_size=char_embed_size,
        char_hidden_size=char_hidden_size,
        word_size=word_size,
        hidden_size=hidden_size,
        depth=depth,
        embed_dropout=embed_dropout,
        input_dropout=input_dropout,
        output_dropout=output_dropout,
        recurrent_dropout=recurrent_dropout,
        trainable_words=trainable_words,
        word_dropout=word_dropout,
        recurrent_mode=recurrent_mode,
    )
    return Model(
        "bilstm_crf",
        forward,
        init=init,
        attrs={
            "encoder": encoder,
            "include_static_vectors": include_static_vectors,
            "word_min_count": word_min_count,
            "max_length": max_length,
            "window_context": window_context,
            "batch_tokens": batch_tokens,
            "normalize_digits": normalize_digits,
            "train_precision": train_precision,
            # Filled by `set_lexicons` or, when loading, `set_shapes`.
            "vectors_size": None,
            "words": Lexicon(),
            "chars": Lexicon(),
        },
    )


@registry.architectures("spacy-bioner.BiLSTMCRF.v1")
def build_bilstm_crf_v1(
    char_embed_size: int = 30,
    char_hidden_size: int = 25,
    word_size: int = 100,
    include_static_vectors: bool = True,
    word_min_count: int = 2,
    hidden_size: int = 100,
    depth: int = 2,
    embed_dropout: float = 0.0,
    input_dropout: float = 0.3,
    output_dropout: float = 0.3,
    recurrent_dropout: float = 0.1,
    max_length: int = 256,
    window_context: int = 32,
    batch_tokens: int = 4096,
) -> Model[InputType, OutputType]:
    """The first version (kept so that saved pipelines load): v2 without its
    recipe options. See `build_bilstm_crf` for the arguments."""
    # The signature above is what configs are validated against; the
    # arguments themselves pass straight through.
    return build_bilstm_crf(**locals())
