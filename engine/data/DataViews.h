#pragma once

#include "data/Dataset.h"

#include <cstdint>
#include <vector>

namespace kd {

/// The images of `set` whose label is in [begin, end), labels shifted down by `begin`.
TensorDataset selectClasses(const TensorDataset &set, int begin, int end);

/// `data` restricted to classes [begin, end) in every split, with `end − begin` classes
/// numbered from 0 (class names sliced to match).
DataBundle classSubset(const DataBundle &data, int begin, int end);

/// `data` with its training set replaced by `train` (val, test, classes kept).
DataBundle withTrainingSet(const DataBundle &data, TensorDataset train);

/// The first `limit` rows of `set` (all when limit is 0 or larger than the set).
TensorDataset firstRows(const TensorDataset &set, std::int64_t limit);

/// Re-expresses images normalised with (fromMean, fromStd) in the normalisation
/// (toMean, toStd): x' = (x·s_from + m_from − m_to) / s_to per channel, i.e. the same pixels.
void renormalise(DataBundle &data, const std::vector<float> &toMean, const std::vector<float> &toStd);

} // namespace kd
