#include "Trainer.h"

#include "core/Error.h"
#include "training/Optim.h"
#include "runs/RunStore.h"

#include <cmath>
#include <sstream>

namespace kd {

double TrainingContext::wallSeconds() const
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void TrainingContext::log(const std::string &text) const
{
    if (store)
        store->appendLog(text);
    if (observer)
        observer->onLog(ExperimentObserver::Level::Info, text);
}

void toChannelsLast(torch::nn::Module &model)
{
    torch::NoGradGuard noGrad;
    for (auto &p : model.parameters())
        if (p.dim() == 4)
            p.set_data(p.contiguous(torch::MemoryFormat::ChannelsLast));
}

double evaluateAccuracy(FeatureNet &model, const TensorDataset &set, const torch::Device &device,
                        int batchSize, bool channelsLast)
{
    const auto n = set.size();
    if (n == 0)
        return NAN;
    torch::NoGradGuard noGrad;
    const bool wasTraining = model.is_training();
    model.eval();
    std::int64_t correct = 0;
    for (std::int64_t i = 0; i < n; i += batchSize) {
        const auto len = std::min<std::int64_t>(batchSize, n - i);
        auto x = set.images.narrow(0, i, len).to(device);
        if (channelsLast)
            x = x.contiguous(torch::MemoryFormat::ChannelsLast);
        auto y = set.labels.narrow(0, i, len).to(device);
        correct += model.forwardFeatures(x).logits().argmax(1).eq(y).sum().item<std::int64_t>();
    }
    model.train(wasTraining);
    return double(correct) / double(n);
}

namespace {

/// Running sums of loss terms between two logged points.
struct TermAccumulator {
    std::vector<std::string> names; // "loss" first
    std::vector<double> sums;
    std::int64_t count = 0;

    explicit TermAccumulator(const std::vector<std::string> &terms)
    {
        names.push_back("loss");
        names.insert(names.end(), terms.begin(), terms.end());
        sums.assign(names.size(), 0.0);
    }
    void add(const std::vector<double> &values)
    {
        for (std::size_t i = 0; i < values.size(); ++i)
            sums[i] += values[i];
        ++count;
    }
    std::vector<std::pair<std::string, double>> meanAndReset()
    {
        std::vector<std::pair<std::string, double>> out;
        for (std::size_t i = 0; i < names.size(); ++i)
            out.emplace_back(names[i], count ? sums[i] / double(count) : NAN);
        sums.assign(names.size(), 0.0);
        count = 0;
        return out;
    }
};

std::string formatDuration(double s)
{
    if (!std::isfinite(s))
        return "?";
    const long t = long(s + 0.5);
    std::ostringstream os;
    if (t >= 3600)
        os << t / 3600 << "h" << (t % 3600) / 60 << "m";
    else if (t >= 60)
        os << t / 60 << "m" << t % 60 << "s";
    else
        os << t << "s";
    return os.str();
}

} // namespace

bool trainStage(std::vector<Learner *> learners, const TeacherSource &teacher, const TrainingContext &ctx)
{
    if (learners.empty())
        return true;
    const auto &train = ctx.data->train;
    const auto &first = *learners.front();
    const int epochs = first.train.epochs;
    const int batch = first.train.batchSize;
    for (auto *l : learners)
        if (l->train.epochs != epochs || l->train.batchSize != batch)
            throw Error("models trained together in one stage must share epochs and batch_size");

    const auto n = train.size();
    // Drop the last incomplete batch (as the peer scripts do) unless it is the only one.
    const std::int64_t stepsPerEpoch = std::max<std::int64_t>(1, n / batch);
    const std::int64_t totalSteps = stepsPerEpoch * epochs;

    std::vector<TermAccumulator> interval, epochAcc;
    const std::function<void(const std::string &)> methodLog = [&ctx](const std::string &line) { ctx.log(line); };
    for (auto *l : learners) {
        interval.emplace_back(l->method->termNames());
        epochAcc.emplace_back(l->method->termNames());
    }

    for (int epoch = first.state.epochsDone; epoch < epochs; ++epoch) {
        for (auto *l : learners) {
            setLearningRate(*l->optimizer, scheduledLr(l->train, epoch));
            l->model->train();
            if (auto extra = l->method->trainableModule())
                extra->train();
        }
        BatchLoader loader(train, ctx.seed, epoch, batch, stepsPerEpoch, ctx.augmentation, ctx.channelsLast);
        std::vector<std::int64_t> correct(learners.size(), 0);
        std::int64_t seen = 0;
        const auto epochStart = std::chrono::steady_clock::now();
        auto intervalStart = epochStart;
        std::int64_t intervalImages = 0;
        std::vector<double> stageSeconds(learners.size(), 0.0);

        for (std::int64_t s = 0; s < stepsPerEpoch; ++s) {
            Batch b;
            if (!loader.next(b))
                throw std::logic_error("batch loader ended early");
            const auto len = b.labels.size(0);
            auto x = b.images.to(ctx.device);
            auto y = b.labels.to(ctx.device);
            Features teacherOut;
            if (teacher.active())
                teacherOut = teacher.features(b, x);
            for (std::size_t li = 0; li < learners.size(); ++li) {
                auto &l = *learners[li];
                const auto t0 = std::chrono::steady_clock::now();
                StepContext sc;
                sc.epoch = epoch + 1;
                sc.epochs = epochs;
                sc.step = l.state.step;
                sc.totalSteps = totalSteps;
                sc.indices = b.indices;
                sc.inputs = x;
                sc.student = l.model.get();
                sc.teacher = teacher.model();
                sc.log = &methodLog;
                auto out = l.model->forwardFeatures(x);
                auto loss = l.method->compute(out, teacher.active() ? &teacherOut : nullptr, y, sc);
                l.optimizer->zero_grad();
                loss.total.backward();
                l.optimizer->step();
                ++l.state.step;

                std::vector<double> values;
                values.push_back(loss.total.item<double>());
                for (const auto &t : loss.terms)
                    values.push_back(t.second.item<double>());
                if (!std::isfinite(values.front()))
                    throw Error(l.role + ": the loss became " + std::to_string(values.front())
                                + " at epoch " + std::to_string(epoch + 1) + ", step "
                                + std::to_string(l.state.step) + "; lower " + l.role
                                + ".train.lr or check the data normalisation");
                interval[li].add(values);
                epochAcc[li].add(values);
                correct[li] += out.logits().argmax(1).eq(y).sum().item<std::int64_t>();
                stageSeconds[li] += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            }
            seen += len;
            intervalImages += len;

            const bool last = s + 1 == stepsPerEpoch;
            const bool stopNow = ctx.stopRequested();
            if ((s + 1) % first.train.logEvery == 0 || last || stopNow) {
                const auto now = std::chrono::steady_clock::now();
                const double dt = std::chrono::duration<double>(now - intervalStart).count();
                const double ips = dt > 0 ? double(intervalImages) / dt : NAN;
                for (std::size_t li = 0; li < learners.size(); ++li) {
                    auto &l = *learners[li];
                    MetricRecord r;
                    r.role = l.role;
                    r.kind = MetricRecord::Kind::Step;
                    r.epoch = epoch + 1;
                    r.step = l.state.step;
                    r.wallSeconds = ctx.wallSeconds();
                    r.losses = interval[li].meanAndReset();
                    r.lr = scheduledLr(l.train, epoch);
                    r.imagesPerSecond = ips;
                    if (ctx.store)
                        ctx.store->appendMetric(r);
                    if (ctx.observer)
                        ctx.observer->onMetric(r);
                }
                intervalStart = now;
                intervalImages = 0;
                if (ctx.progress && ctx.observer) {
                    const double frac = double(epoch * stepsPerEpoch + s + 1) / double(totalSteps);
                    auto p = ctx.progress(frac, ips);
                    p.epoch = epoch + 1;
                    p.epochs = epochs;
                    p.stepInEpoch = s + 1;
                    p.stepsPerEpoch = stepsPerEpoch;
                    ctx.observer->onProgress(p);
                }
            }
            if (stopNow) {
                for (std::size_t li = 0; li < learners.size(); ++li)
                    learners[li]->state.trainSeconds += stageSeconds[li];
                ctx.log(first.role + ": stop requested; ended in epoch " + std::to_string(epoch + 1)
                        + " after step " + std::to_string(first.state.step));
                return false;
            }
        }

        const double epochSeconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - epochStart).count();
        for (std::size_t li = 0; li < learners.size(); ++li) {
            auto &l = *learners[li];
            l.state.trainSeconds += stageSeconds[li];
            l.state.epochsDone = epoch + 1;
            MetricRecord r;
            r.role = l.role;
            r.kind = MetricRecord::Kind::Epoch;
            r.epoch = epoch + 1;
            r.step = l.state.step;
            r.losses = epochAcc[li].meanAndReset();
            r.lr = scheduledLr(l.train, epoch);
            r.trainAcc = ctx.labelsAreTargets ? double(correct[li]) / double(std::max<std::int64_t>(1, seen)) : NAN;
            r.valAcc = evaluateAccuracy(*l.model, ctx.data->val, ctx.device, ctx.evalBatchSize, ctx.channelsLast);
            r.testAcc = evaluateAccuracy(*l.model, ctx.data->test, ctx.device, ctx.evalBatchSize, ctx.channelsLast);
            r.imagesPerSecond = epochSeconds > 0 ? double(seen) / epochSeconds : NAN;
            r.wallSeconds = ctx.wallSeconds();
            l.state.finalTestAcc = r.testAcc;
            if (!(l.state.bestTestAcc >= r.testAcc))
                l.state.bestTestAcc = r.testAcc;
            auto &evaluator = l.evaluator ? *l.evaluator : *l.method;
            const auto extraNames = evaluator.extraMetrics();
            if (!extraNames.empty()) {
                l.state.finalExtra.clear();
                l.state.bestExtra.resize(extraNames.size(), {std::string(), NAN});
                for (std::size_t k = 0; k < extraNames.size(); ++k) {
                    const double v = evaluator.evaluateExtra(extraNames[k], *l.model, ctx.data->test, ctx.device,
                                                             ctx.evalBatchSize);
                    r.extra.emplace_back(extraNames[k], v);
                    l.state.finalExtra.emplace_back(extraNames[k], v);
                    auto &best = l.state.bestExtra[k];
                    best.first = extraNames[k];
                    if (!(best.second >= v))
                        best.second = v;
                }
            }
            if (ctx.store)
                ctx.store->appendMetric(r);
            if (ctx.observer)
                ctx.observer->onMetric(r);
            std::ostringstream os;
            os.setf(std::ios::fixed);
            os.precision(4);
            os << l.role << " epoch " << epoch + 1 << "/" << epochs << ": loss " << r.loss("loss");
            if (std::isfinite(r.trainAcc))
                os << ", train acc " << r.trainAcc;
            if (std::isfinite(r.valAcc))
                os << ", val acc " << r.valAcc;
            os << ", test acc " << r.testAcc;
            for (const auto &kv : r.extra)
                os << ", " << kv.first << " " << kv.second;
            os.precision(0);
            os << ", " << r.imagesPerSecond << " img/s, " << formatDuration(epochSeconds);
            ctx.log(os.str());
        }
        if (ctx.stopRequested())
            return false;
    }
    return true;
}

} // namespace kd
