#include "DataViews.h"

#include "core/Error.h"

namespace kd {

TensorDataset selectClasses(const TensorDataset &set, int begin, int end)
{
    if (set.size() == 0)
        return set;
    const auto keep = set.labels.ge(begin).logical_and(set.labels.lt(end)).nonzero().flatten();
    return set.withRows(set.images.index_select(0, keep).contiguous(),
                        (set.labels.index_select(0, keep) - begin).contiguous());
}

DataBundle classSubset(const DataBundle &data, int begin, int end)
{
    if (begin < 0 || end > data.numClasses || begin >= end)
        throw Error("class range [" + std::to_string(begin) + ", " + std::to_string(end) + ") is not within the "
                    + std::to_string(data.numClasses) + " classes of the dataset");
    DataBundle b = data;
    b.train = selectClasses(data.train, begin, end);
    b.val = selectClasses(data.val, begin, end);
    b.test = selectClasses(data.test, begin, end);
    b.numClasses = end - begin;
    b.classNames.clear();
    for (int c = begin; c < end && c < int(data.classNames.size()); ++c)
        b.classNames.push_back(data.classNames[std::size_t(c)]);
    if (b.train.size() == 0)
        throw Error("classes " + std::to_string(begin) + ".." + std::to_string(end - 1)
                    + " have no training images (is dataset.limit too small?)");
    return b;
}

DataBundle withTrainingSet(const DataBundle &data, TensorDataset train)
{
    DataBundle b = data;
    b.train = std::move(train);
    return b;
}

TensorDataset firstRows(const TensorDataset &set, std::int64_t limit)
{
    if (limit <= 0 || limit >= set.size())
        return set;
    return set.withRows(set.images.narrow(0, 0, limit), set.labels.narrow(0, 0, limit));
}

void renormalise(DataBundle &data, const std::vector<float> &toMean, const std::vector<float> &toStd)
{
    const auto c = std::int64_t(toMean.size());
    if (std::int64_t(data.mean.size()) != c || std::int64_t(toStd.size()) != c)
        throw Error("cannot renormalise " + std::to_string(data.mean.size()) + "-channel images to "
                    + std::to_string(c) + " channels");
    const auto scale = (torch::tensor(data.stddev) / torch::tensor(toStd)).view({1, c, 1, 1});
    const auto shift = ((torch::tensor(data.mean) - torch::tensor(toMean)) / torch::tensor(toStd)).view({1, c, 1, 1});
    const auto toMeanT = torch::tensor(toMean).view({1, c, 1, 1});
    const auto toStdT = torch::tensor(toStd).view({1, c, 1, 1});
    for (auto *set : {&data.train, &data.val, &data.test}) {
        if (set->size() == 0)
            continue;
        if (set->mean.defined()) {
            // uint8 images: normalise with the target statistics directly.
            set->mean = toMeanT;
            set->stddev = toStdT;
        } else {
            set->images = (set->images * scale + shift).contiguous();
        }
    }
    data.mean = toMean;
    data.stddev = toStd;
}

} // namespace kd
