"""Text features: tokens, TF-IDF, Word2Vec, GloVe, sentence vectors and MiniLM (chapter 4).

Everything a chapter needs is importable from here: ``from xmr_lite.text import tokenize``.
Word vectors of every kind come back as gensim ``KeyedVectors``.
"""

from xmr_lite.text.encoders import MiniLMEncoder
from xmr_lite.text.glove import GloVeScratch, cooccurrence_matrix, glove_loss, glove_weight, load_glove
from xmr_lite.text.tokens import Tfidf, Vocabulary, bag_of_words, check_corpus, tfidf, tokenize
from xmr_lite.text.vectors import (
    SENTENCE_METHODS,
    AnalogyResult,
    WordSimilarityResult,
    analogy_accuracy,
    keyed_vectors,
    oov_tokens,
    remove_first_principal_component,
    sentence_embedding,
    word_similarity,
)
from xmr_lite.text.word2vec import (
    ARCHITECTURES,
    Word2VecScratch,
    cbow_examples,
    keep_probabilities,
    negative_sampling_loss,
    skipgram_pairs,
    train_gensim_word2vec,
)

__all__ = [
    "ARCHITECTURES",
    "SENTENCE_METHODS",
    "AnalogyResult",
    "GloVeScratch",
    "MiniLMEncoder",
    "Tfidf",
    "Vocabulary",
    "Word2VecScratch",
    "WordSimilarityResult",
    "analogy_accuracy",
    "bag_of_words",
    "cbow_examples",
    "check_corpus",
    "cooccurrence_matrix",
    "glove_loss",
    "glove_weight",
    "keep_probabilities",
    "keyed_vectors",
    "load_glove",
    "negative_sampling_loss",
    "oov_tokens",
    "remove_first_principal_component",
    "sentence_embedding",
    "skipgram_pairs",
    "tfidf",
    "tokenize",
    "train_gensim_word2vec",
    "word_similarity",
]
