// KenLM scoring of lines given as word ids, for the CommonCrawl perplexity filter
// (pipelines/quality/native.py loads it with ctypes; `make install` builds it next to lmplz).
//
// The `kenlm` Python module scores one string per call: Python joins a line's SentencePiece pieces,
// KenLM splits them again and hashes every piece back to its vocabulary id. Here a line arrives as
// the ids themselves (the caller maps SentencePiece ids to KenLM ids once per model), and a whole
// batch of lines is scored per call. The arithmetic is the module's own (python/score_sentence.cc,
// lm::base::ScoreSentence): <s> context, one float sum of BaseScore per word in order, then </s>;
// so the result has the same bits as kenlm.Model.score(line, bos=True, eos=True).
#include "lm/model.hh"
#include "lm/state.hh"
#include "lm/virtual_interface.hh"
#include "util/string_piece.hh"

#include <cstdint>
#include <cstdio>
#include <exception>
#include <utility>

namespace {

float score_words(const lm::base::Model &model, const uint32_t *words, int64_t n) {
  lm::ngram::State states[2];
  lm::ngram::State *state = &states[0], *next = &states[1];
  model.BeginSentenceWrite(state);
  float total = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    total += model.BaseScore(state, words[i], next);
    std::swap(state, next);
  }
  total += model.BaseScore(state, model.BaseVocabulary().EndSentence(), next);
  return total;
}

}  // namespace

extern "C" {

// The model at `path` (ARPA or KenLM binary), or null with the reason in `error`.
void *llama_kenlm_load(const char *path, char *error, size_t error_size) {
  try {
    lm::ngram::Config config;
    config.messages = nullptr;  // no "build a binary file" advice on stderr per worker
    return lm::ngram::LoadVirtual(path, config);
  } catch (const std::exception &e) {
    std::snprintf(error, error_size, "%s", e.what());
    return nullptr;
  }
}

void llama_kenlm_free(void *model) { delete static_cast<lm::base::Model *>(model); }

// KenLM's id of a word (its <unk> id when the word is not in the model).
uint32_t llama_kenlm_index(const void *model, const char *word, size_t length) {
  return static_cast<const lm::base::Model *>(model)->BaseVocabulary().Index(StringPiece(word, length));
}

// Line k is words[ends[k-1] .. ends[k]) (ends[-1] = 0); its log10 probability goes to out[k].
void llama_kenlm_score(const void *model, const uint32_t *words, const int64_t *ends, int64_t lines,
                       float *out) {
  const auto &m = *static_cast<const lm::base::Model *>(model);
  int64_t start = 0;
  for (int64_t k = 0; k < lines; ++k) {
    out[k] = score_words(m, words + start, ends[k] - start);
    start = ends[k];
  }
}

}  // extern "C"
