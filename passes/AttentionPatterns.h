// Pieces of the fuse-attention pass shared between its files: causal-mask
// recognition (AttentionMasks.cpp) and head-layout folding
// (AttentionLayout.cpp).
#ifndef KILN_PASSES_ATTENTIONPATTERNS_H
#define KILN_PASSES_ATTENTIONPATTERNS_H

#include "mlir/IR/PatternMatch.h"

namespace kiln::attention {

/// Fill values at or below this (or -inf) mask a key out.
constexpr double kMaskedFill = -1.0e4;

/// True when the boolean `cond` allows exactly the keys a causal mask allows
/// (key j for query i when j <= i + Sk - Sq) for the scores `scores`:
/// `condIsAllowed` says whether true means "attend" (where(c, scores, fill))
/// or "masked" (where(c, fill, scores)). Recognises exact constant masks, tril
/// buffers sliced to [.., a:S, :S], trilu of a square tensor of ones, and
/// not/equal(·, 0)/cast on top of those.
bool isCausalCondition(mlir::Value cond, bool condIsAllowed,
                       mlir::Value scores);

/// True when the additive float `mask` is 0 exactly where a causal mask allows
/// a key and at most kMaskedFill elsewhere: an exact constant, trilu(fill,
/// upper, k = 1) of a square fill, or where(causal condition, 0, fill).
bool isCausalAdditiveMask(mlir::Value mask, mlir::Value scores);

/// Adds the pattern that folds head split/merge reshapes and transposes
/// around a "bhsd" kiln.attention into layout "bsd".
void populateHeadLayoutPatterns(mlir::RewritePatternSet &patterns);

} // namespace kiln::attention

#endif // KILN_PASSES_ATTENTIONPATTERNS_H
