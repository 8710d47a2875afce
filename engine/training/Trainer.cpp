#include "Trainer.h"

#include "analysis/EpochAnalyzer.h"
#include "core/Error.h"
#include "models/MultiBranchNet.h"
#include "training/Optim.h"
#include "training/Precision.h"
#include "runs/RunStore.h"

#include <cmath>
#include <functional>
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

namespace {

/// Share of `set` whose label equals argmax of `scores(x)` over eval batches (no grad).
template <typename Scores>
double batchedAccuracy(const TensorDataset &set, const torch::Device &device, int batchSize, bool channelsLast,
                       Scores &&scores)
{
    const auto n = set.size();
    torch::NoGradGuard noGrad;
    std::int64_t correct = 0;
    for (std::int64_t i = 0; i < n; i += batchSize) {
        const auto len = std::min<std::int64_t>(batchSize, n - i);
        auto x = set.rows(i, len).to(device);
        if (channelsLast)
            x = x.contiguous(torch::MemoryFormat::ChannelsLast);
        auto y = set.labels.narrow(0, i, len).to(device);
        correct += scores(x).argmax(1).eq(y).sum().template item<std::int64_t>();
    }
    return double(correct) / double(n);
}

} // namespace

Features toFloat32(const Features &f)
{
    Features out;
    for (const auto &kv : f.items())
        out.add(kv.first, kv.second.is_floating_point() && kv.second.scalar_type() != torch::kFloat32
                              ? kv.second.to(torch::kFloat32)
                              : kv.second);
    return out;
}

double evaluateAccuracy(FeatureNet &model, const TensorDataset &set, const torch::Device &device,
                        int batchSize, bool channelsLast)
{
    if (set.size() == 0)
        return NAN;
    const bool wasTraining = model.is_training();
    model.eval();
    const double acc = batchedAccuracy(set, device, batchSize, channelsLast,
                                       [&](const torch::Tensor &x) { return model.forwardLogits(x); });
    model.train(wasTraining);
    return acc;
}

double evaluateEnsembleAccuracy(const std::vector<FeatureNet *> &models, const TensorDataset &set,
                                const torch::Device &device, int batchSize, bool channelsLast)
{
    if (set.size() == 0 || models.empty())
        return NAN;
    std::vector<bool> wasTraining;
    for (auto *m : models) {
        wasTraining.push_back(m->is_training());
        m->eval();
    }
    const double acc = batchedAccuracy(set, device, batchSize, channelsLast, [&](const torch::Tensor &x) {
        torch::Tensor mean;
        for (auto *m : models) {
            const auto p = torch::softmax(m->forwardLogits(x).to(torch::kFloat32), 1);
            mean = mean.defined() ? mean + p : p;
        }
        return mean;
    });
    for (std::size_t k = 0; k < models.size(); ++k)
        models[k]->train(wasTraining[k]);
    return acc;
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
    void restore(const std::vector<double> &values, std::int64_t n)
    {
        if (values.size() == sums.size()) {
            sums = values;
            count = n;
        }
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

namespace {

/// One call of trainStage(), phase by phase: per epoch beginEpoch(), then trainBatch() for
/// every batch with logInterval() at each logged point, then endEpoch() (evaluation, epoch
/// record, log line). The learners train together on the same batches.
class StageTrainer {
public:
    StageTrainer(std::vector<Learner *> learners, const TeacherSource &teacher, const TrainingContext &ctx)
        : m_learners(std::move(learners))
        , m_teacher(teacher)
        , m_ctx(ctx)
        , m_first(*m_learners.front())
        , m_epochs(m_first.train.epochs)
        , m_batch(m_first.train.batchSize)
    {
        for (auto *l : m_learners)
            if (l->train.epochs != m_epochs || l->train.batchSize != m_batch)
                throw Error("models trained together in one stage must share epochs and batch_size");
        // Drop the last incomplete batch (as the peer scripts do) unless it is the only one.
        m_stepsPerEpoch = std::max<std::int64_t>(1, ctx.data->train.size() / m_batch);
        m_totalSteps = m_stepsPerEpoch * m_epochs;
        m_methodLog = [&ctx](const std::string &line) { ctx.log(line); };
        for (auto *l : m_learners) {
            m_views = std::max(m_views, l->method->inputViews());
            if (l->method->secondStepTerms() > 0) {
                if (!ctx.cohort)
                    throw std::logic_error("a method with a second update per batch trains only in a cohort");
                m_secondStep = true;
            }
        }
        // Precision of this stage's forwards: the first model's train.precision, else the project's.
        const auto requested = [&ctx](const Learner &l) {
            return l.train.precision == "inherit" ? ctx.precision : l.train.precision;
        };
        for (auto *l : m_learners)
            if (requested(*l) != requested(m_first))
                throw Error("models trained together in one stage must share their precision (" + m_first.role + ": "
                            + requested(m_first) + ", " + l->role + ": " + requested(*l) + ")");
        m_precision = choosePrecision(requested(m_first), ctx.device);
        m_scaler = LossScaler(m_precision.lossScaling());
        if (m_precision.requested != "fp32")
            ctx.log(m_first.role + ": precision " + m_precision.describe());
        // On a GPU the step's checks (non-finite terms and gradients) and sums are read back at
        // log points only, so the host queues steps ahead of the device. Where a step must know
        // its own outcome before the optimiser runs (numerics "skip", fp16's loss scaling, a
        // second update per batch) and on the CPU (nothing to overlap) every step reads back.
        m_deferChecks = ctx.device.is_cuda() && ctx.numerics.onNonFinite == "stop" && !m_scaler.enabled() && !m_secondStep;
        m_pinBatches = ctx.device.is_cuda();
        if (m_views > 1 && !ctx.augmentation.enabled())
            ctx.log("the method trains on " + std::to_string(m_views)
                    + " augmented views of every batch, but this dataset is not augmented: every view is the same "
                      "images (set dataset.augment.random_crop_padding or horizontal_flip to give each its own)");
        for (auto *l : m_learners) {
            m_interval.emplace_back(l->method->termNames());
            m_epochAcc.emplace_back(l->method->termNames());
            // Every optimised tensor by name, to say which gradient became NaN or Inf.
            std::vector<std::pair<std::string, torch::Tensor>> named;
            for (const auto &kv : l->model->named_parameters())
                named.emplace_back(l->role + "." + kv.key(), kv.value());
            if (auto extra = l->method->trainableModule())
                for (const auto &kv : extra->named_parameters())
                    named.emplace_back(l->role + " method." + kv.key(), kv.value());
            m_params.push_back(std::move(named));
        }
    }

    /// False when a stop request ended the stage early.
    bool run()
    {
        const StagePosition *resume = m_ctx.resumeAt;
        const int firstEpoch = resume ? resume->epoch : m_first.state.epochsDone;
        if (resume)
            m_skips = resume->consecutiveSkips;
        m_lastCheckpoint = std::chrono::steady_clock::now();
        for (int epoch = firstEpoch; epoch < m_epochs; ++epoch) {
            beginEpoch(epoch);
            std::int64_t firstStep = 0;
            if (resume && epoch == firstEpoch && resume->stepInEpoch > 0) {
                restoreProgress(*resume);
                firstStep = resume->stepInEpoch;
            }
            auto augmentation = m_ctx.augmentation;
            augmentation.views = m_views;
            BatchLoader loader(m_ctx.data->train, m_ctx.seed, epoch, m_batch, m_stepsPerEpoch, augmentation,
                               m_ctx.channelsLast, 3, firstStep, m_pinBatches);
            Batch b, nextBatch;
            DeviceBatch onDevice, nextOnDevice;
            if (!loader.next(b))
                throw std::logic_error("batch loader ended early");
            onDevice = upload(b);
            for (std::int64_t s = firstStep; s < m_stepsPerEpoch; ++s) {
                trainBatch(b, onDevice, epoch);
                // The next batch's copy is queued behind this step's work, one step ahead of use.
                if (s + 1 < m_stepsPerEpoch) {
                    if (!loader.next(nextBatch))
                        throw std::logic_error("batch loader ended early");
                    nextOnDevice = upload(nextBatch);
                }
                const bool last = s + 1 == m_stepsPerEpoch;
                const bool stopNow = m_ctx.stopRequested();
                const bool logNow = (s + 1) % m_first.train.logEvery == 0 || last;
                if (logNow)
                    logInterval(epoch, s);
                if (stopNow) {
                    // The checkpoint first: it keeps this epoch's seconds and the losses since
                    // the last record as running sums. The partial record after it shows the
                    // user where the stop came; a resume cuts it off and logs the full one.
                    writeCheckpoint(epoch, s + 1);
                    if (!logNow)
                        logInterval(epoch, s);
                    for (std::size_t li = 0; li < m_learners.size(); ++li)
                        m_learners[li]->state.trainSeconds += m_stageSeconds[li];
                    m_ctx.log(m_first.role + ": stop requested; ended in epoch " + std::to_string(epoch + 1)
                              + " after step " + std::to_string(m_first.state.step));
                    return false;
                }
                if (!last && timeForCheckpoint())
                    writeCheckpoint(epoch, s + 1);
                if (s + 1 < m_stepsPerEpoch) {
                    b = std::move(nextBatch);
                    onDevice = std::move(nextOnDevice);
                }
            }
            endEpoch(epoch);
            const bool final = epoch + 1 == m_epochs;
            const bool byEpochs = m_ctx.checkpoints.everyEpochs > 0 && (epoch + 1) % m_ctx.checkpoints.everyEpochs == 0;
            // After the final epoch the stage's end is the experiment's checkpoint.
            if (!final && (m_ctx.stopRequested() || byEpochs || timeForCheckpoint()))
                writeCheckpoint(epoch + 1, 0);
            if (m_ctx.stopRequested())
                return false;
        }
        return true;
    }

private:
    void beginEpoch(int epoch)
    {
        for (auto *l : m_learners) {
            setLearningRate(*l->optimizer, scheduledLr(l->train, epoch));
            l->model->train();
            if (auto extra = l->method->trainableModule())
                extra->train();
        }
        m_correct.assign(m_learners.size(), 0);
        m_seen = 0;
        m_seenBefore = 0;
        m_epochStart = std::chrono::steady_clock::now();
        m_intervalStart = m_epochStart;
        m_intervalImages = 0;
        m_stageSeconds.assign(m_learners.size(), 0.0);
    }

    bool timeForCheckpoint() const
    {
        const double minutes = m_ctx.checkpoints.everyMinutes;
        return minutes > 0
            && std::chrono::duration<double>(std::chrono::steady_clock::now() - m_lastCheckpoint).count()
            >= minutes * 60.0;
    }

    /// Hands the experiment what a resumable checkpoint needs at (epoch, stepInEpoch).
    void writeCheckpoint(int epoch, std::int64_t stepInEpoch)
    {
        flushPending();
        m_lastCheckpoint = std::chrono::steady_clock::now();
        if (!m_ctx.checkpoint)
            return;
        StagePosition pos;
        pos.epoch = epoch;
        pos.stepInEpoch = stepInEpoch;
        pos.consecutiveSkips = m_skips;
        if (stepInEpoch > 0) {
            pos.seen = m_seen;
            for (std::size_t li = 0; li < m_learners.size(); ++li) {
                LearnerProgress lp;
                lp.intervalSums = m_interval[li].sums;
                lp.intervalCount = m_interval[li].count;
                lp.epochSums = m_epochAcc[li].sums;
                lp.epochCount = m_epochAcc[li].count;
                lp.correct = m_correct[li];
                lp.epochSeconds = m_stageSeconds[li];
                pos.learners.push_back(std::move(lp));
            }
        }
        m_ctx.checkpoint(m_learners, pos);
        m_lastCheckpoint = std::chrono::steady_clock::now();
    }

    /// The running sums of the epoch a resumed stage continues.
    void restoreProgress(const StagePosition &pos)
    {
        if (pos.learners.size() != m_learners.size())
            throw Error("the checkpoint holds " + std::to_string(pos.learners.size()) + " models for this stage, not "
                        + std::to_string(m_learners.size()) + "; it belongs to another run");
        m_seen = pos.seen;
        m_seenBefore = pos.seen;
        for (std::size_t li = 0; li < m_learners.size(); ++li) {
            const auto &lp = pos.learners[li];
            m_interval[li].restore(lp.intervalSums, lp.intervalCount);
            m_epochAcc[li].restore(lp.epochSums, lp.epochCount);
            m_correct[li] = lp.correct;
            m_stageSeconds[li] = lp.epochSeconds;
        }
    }

    /// A batch's tensors on the training device. From pinned memory (CUDA) the copies are
    /// asynchronous: they are queued on the device's stream, ahead of the step that reads them.
    struct DeviceBatch {
        torch::Tensor x, y;
        std::vector<torch::Tensor> views;
    };

    DeviceBatch upload(const Batch &b) const
    {
        DeviceBatch d;
        const auto to = [this](const torch::Tensor &t) {
            return t.to(t.options().device(m_ctx.device), /*non_blocking=*/m_pinBatches);
        };
        d.x = to(b.images);
        d.y = to(b.labels);
        if (m_views > 1)
            for (const auto &v : b.views)
                d.views.push_back(to(v));
        return d;
    }

    /// One optimiser step of every learner on batch `b` (the teacher runs once for all).
    void trainBatch(const Batch &b, const DeviceBatch &d, int epoch)
    {
        const auto len = b.labels.size(0);
        const auto &x = d.x;
        const auto &y = d.y;
        m_batchViews.clear();
        if (m_views > 1) {
            m_batchViews.push_back(x);
            for (const auto &v : d.views)
                m_batchViews.push_back(v);
        }
        Features teacherOut;
        if (m_teacher.active()) {
            AutocastScope autocast(m_precision, m_ctx.device);
            teacherOut = m_teacher.features(b, x);
        }
        if (m_precision.mixed())
            teacherOut = toFloat32(teacherOut);
        if (m_ctx.cohort)
            trainCohort(b, x, y, epoch);
        else
            for (std::size_t li = 0; li < m_learners.size(); ++li)
                trainLearner(li, b, x, y, m_teacher.active() ? &teacherOut : nullptr, epoch);
        m_seen += len;
        m_intervalImages += len;
    }

    StepContext stepContext(const Learner &l, const Batch &b, const torch::Tensor &x, int epoch) const
    {
        StepContext sc;
        sc.epoch = epoch + 1;
        sc.epochs = m_epochs;
        sc.step = l.state.step;
        sc.totalSteps = m_totalSteps;
        sc.indices = b.indices;
        sc.inputs = x;
        sc.student = l.model.get();
        sc.teacher = m_teacher.model();
        sc.log = &m_methodLog;
        sc.views = m_batchViews.empty() ? nullptr : &m_batchViews;
        return sc;
    }

    /// Every peer's forward on this batch (peer k on view k when the method asks for views),
    /// under the stage's autocast; the features the methods read are fp32.
    std::vector<Features> forwardCohort(const torch::Tensor &x)
    {
        std::vector<Features> outs;
        outs.reserve(m_learners.size());
        {
            AutocastScope autocast(m_precision, m_ctx.device);
            for (std::size_t li = 0; li < m_learners.size(); ++li)
                outs.push_back(m_learners[li]->model->forwardFeatures(
                    m_batchViews.empty() ? x : m_batchViews[li % m_batchViews.size()]));
        }
        if (m_precision.mixed())
            for (auto &f : outs)
                f = toFloat32(f);
        return outs;
    }

    /// What a step leaves to check and to sum, still on the device: [total, terms...] as
    /// doubles, whether each gradient is finite, and the correct predictions.
    struct StepOutcome {
        std::size_t learner = 0;
        std::int64_t step = 0;
        int epoch = 0;
        std::vector<std::string> termNames;
        torch::Tensor values;     ///< float64 [1 + terms]
        torch::Tensor gradFinite; ///< bool [gradients], undefined when no gradient was checked
        std::vector<std::size_t> gradParams; ///< which of m_params[learner] each gradFinite entry is
        torch::Tensor correct;    ///< int64 scalar
    };

    StepOutcome outcomeOf(std::size_t li, const LossTerms &loss, const torch::Tensor &logits, const torch::Tensor &y,
                          int epoch) const
    {
        StepOutcome o;
        o.learner = li;
        o.step = m_learners[li]->state.step;
        o.epoch = epoch;
        std::vector<torch::Tensor> v;
        v.push_back(loss.total.detach().reshape({}).to(m_ctx.device, torch::kFloat64));
        for (const auto &t : loss.terms) {
            o.termNames.push_back(t.first);
            v.push_back(t.second.detach().reshape({}).to(m_ctx.device, torch::kFloat64));
        }
        o.values = torch::stack(v);
        o.correct = logits.detach().argmax(1).eq(y).sum();
        return o;
    }

    /// The host's copy of an outcome: values, the first fault ("" when none), correct count.
    struct ReadOutcome {
        std::vector<double> values;
        std::string fault;
        bool gradientFault = false;
        std::int64_t correct = 0;
    };

    ReadOutcome read(const StepOutcome &o) const
    {
        ReadOutcome r;
        const auto v = o.values.cpu();
        r.values.assign(v.data_ptr<double>(), v.data_ptr<double>() + v.numel());
        r.correct = o.correct.item<std::int64_t>();
        for (std::size_t k = 1; k < r.values.size() && r.fault.empty(); ++k)
            if (!std::isfinite(r.values[k]))
                r.fault = "the loss term \"" + o.termNames[k - 1] + "\" (" + std::to_string(r.values[k]) + ")";
        if (r.fault.empty() && !std::isfinite(r.values[0]))
            r.fault = "the total loss (" + std::to_string(r.values[0]) + ")";
        if (r.fault.empty() && o.gradFinite.defined()) {
            const auto finite = o.gradFinite.cpu();
            const auto *ok = finite.data_ptr<bool>();
            const auto &params = m_params[o.learner];
            for (std::int64_t i = 0; i < finite.numel(); ++i)
                if (!ok[i]) {
                    r.fault = "the gradient of " + params[o.gradParams[std::size_t(i)]].first;
                    r.gradientFault = true;
                    break;
                }
        }
        return r;
    }

    /// Sums of a good step into the interval, the epoch and the accuracy counts.
    void account(std::size_t li, const ReadOutcome &r)
    {
        m_interval[li].add(r.values);
        m_epochAcc[li].add(r.values);
        m_correct[li] += r.correct;
    }

    /// Reads back the steps queued since the last log point (deferred checks, on a GPU): the
    /// first fault stops the run naming its step; the rest are summed.
    void flushPending()
    {
        if (m_pending.empty())
            return;
        auto pending = std::move(m_pending);
        m_pending.clear();
        for (const auto &o : pending) {
            const auto r = read(o);
            if (!r.fault.empty()) {
                auto &l = *m_learners[o.learner];
                const auto step = l.state.step;
                l.state.step = o.step;
                skipOrStop(l, r.fault, o.epoch); // numerics "stop": throws
                l.state.step = step;
                continue;
            }
            account(o.learner, r);
        }
    }

    /// Each of learner li's gradients is finite (bool [gradients] on the device); one
    /// reduction per tensor, no read-back; `which` receives each entry's index in m_params[li]
    /// (names are looked up only when one is not finite).
    torch::Tensor gradientsFinite(std::size_t li, std::vector<std::size_t> &which) const
    {
        const auto &params = m_params[li];
        std::vector<torch::Tensor> sums;
        which.clear();
        for (std::size_t k = 0; k < params.size(); ++k) {
            const auto &g = params[k].second.grad();
            if (g.defined()) {
                sums.push_back(g.sum().to(torch::kFloat32));
                which.push_back(k);
            }
        }
        if (sums.empty())
            return torch::Tensor();
        return torch::stack(sums).isfinite();
    }

    /// Every gradient of learner li (for the loss scaler).
    std::vector<torch::Tensor> parametersOf(std::size_t li) const
    {
        std::vector<torch::Tensor> out;
        for (const auto &kv : m_params[li])
            out.push_back(kv.second);
        return out;
    }

    /// fp16: a step whose gradients overflowed at a loss scale above 1 is skipped and lowers
    /// the scale (not a numerics fault); true when that happened.
    bool overflowSkipped(const ReadOutcome &r)
    {
        if (!m_scaler.enabled() || !r.gradientFault || m_scaler.scale() <= 1.0)
            return false;
        m_scaler.update(true);
        return true;
    }

    torch::Tensor scaled(const torch::Tensor &loss) const
    {
        return m_scaler.enabled() ? loss * m_scaler.scale() : loss;
    }

    /// One step of a whole cohort (TrainingContext::cohort): every peer's forward, every
    /// peer's loss with all outputs at hand, one backward of their sum, every optimiser. A
    /// non-finite term or gradient in any peer stops, or skips the step for all of them.
    void trainCohort(const Batch &b, const torch::Tensor &x, const torch::Tensor &y, int epoch)
    {
        const auto t0 = std::chrono::steady_clock::now();
        const std::size_t n = m_learners.size();
        const auto outs = forwardCohort(x);
        std::vector<LossTerms> losses;
        std::vector<StepOutcome> outcomes;
        torch::Tensor total;
        for (std::size_t li = 0; li < n; ++li) {
            auto &l = *m_learners[li];
            auto sc = stepContext(l, b, x, epoch);
            sc.cohort = &outs;
            sc.cohortIndex = li;
            losses.push_back(l.method->compute(outs[li], nullptr, y, sc));
            outcomes.push_back(outcomeOf(li, losses[li], outs[li].logits(), y, epoch));
            l.optimizer->zero_grad();
            total = total.defined() ? total + losses[li].total : losses[li].total;
        }
        scaled(total).backward();
        for (std::size_t li = 0; li < n; ++li)
            outcomes[li].gradFinite = gradientsFinite(li, outcomes[li].gradParams);
        std::vector<ReadOutcome> reads;
        std::string fault;
        std::size_t faulty = 0;
        bool overflow = false;
        if (!m_deferChecks) {
            for (std::size_t li = 0; li < n; ++li) {
                reads.push_back(read(outcomes[li]));
                if (fault.empty() && !reads[li].fault.empty()) {
                    fault = reads[li].fault;
                    faulty = li;
                    overflow = reads[li].gradientFault;
                }
            }
        }
        const bool skipped = !fault.empty() && overflow && overflowSkipped(reads[faulty]);
        if (fault.empty()) {
            for (std::size_t li = 0; li < n; ++li) {
                auto &l = *m_learners[li];
                if (m_scaler.enabled())
                    m_scaler.unscale(parametersOf(li));
                l.optimizer->step();
                auto sc = stepContext(l, b, x, epoch);
                sc.cohort = &outs;
                sc.cohortIndex = li;
                l.method->afterStep(*l.model, sc);
            }
            m_scaler.update(false);
            if (m_secondStep) {
                std::vector<std::vector<double>> values(n);
                for (std::size_t li = 0; li < n; ++li)
                    values[li] = reads[li].values;
                secondStep(b, x, epoch, values, fault, faulty);
                for (std::size_t li = 0; li < n; ++li)
                    reads[li].values = values[li];
            }
        }
        for (auto *l : m_learners)
            ++l->state.step;
        // The cohort's time, shared evenly: the peers' train_seconds add up to the stage's.
        const double share = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / double(n);
        for (std::size_t li = 0; li < n; ++li)
            m_stageSeconds[li] += share;
        if (skipped) {
            for (auto *l : m_learners)
                l->optimizer->zero_grad();
            return;
        }
        if (!fault.empty()) {
            skipOrStop(*m_learners[faulty], fault, epoch);
            for (auto *l : m_learners)
                l->optimizer->zero_grad();
            return;
        }
        m_skips = 0;
        if (m_deferChecks) {
            for (auto &o : outcomes)
                m_pending.push_back(std::move(o));
            return;
        }
        for (std::size_t li = 0; li < n; ++li)
            account(li, reads[li]);
    }

    /// The cohort's second update of this batch (DistillationMethod::secondStep): every peer's
    /// forward again, then each peer's method updates it; their values join the step's.
    void secondStep(const Batch &b, const torch::Tensor &x, int epoch, std::vector<std::vector<double>> &values,
                    std::string &fault, std::size_t &faulty)
    {
        const std::size_t n = m_learners.size();
        const auto outs = forwardCohort(x);
        for (std::size_t li = 0; li < n; ++li) {
            auto &l = *m_learners[li];
            auto sc = stepContext(l, b, x, epoch);
            sc.cohort = &outs;
            sc.cohortIndex = li;
            const auto v = l.method->secondStep(*l.model, sc);
            const auto names = l.method->termNames();
            if (v.size() != l.method->secondStepTerms())
                throw std::logic_error("method " + l.role + ": secondStep() returned another number of terms");
            for (std::size_t k = 0; k < v.size(); ++k) {
                values[li].push_back(v[k]);
                if (fault.empty() && !std::isfinite(v[k])) {
                    fault = "the loss term \"" + names[names.size() - v.size() + k] + "\" (" + std::to_string(v[k])
                            + ") of the second update";
                    faulty = li;
                }
            }
        }
    }

    void trainLearner(std::size_t li, const Batch &b, const torch::Tensor &x, const torch::Tensor &y,
                      const Features *teacherOut, int epoch)
    {
        auto &l = *m_learners[li];
        const auto t0 = std::chrono::steady_clock::now();
        const auto sc = stepContext(l, b, x, epoch);
        Features out;
        {
            AutocastScope autocast(m_precision, m_ctx.device);
            out = forwardOnViews(*l.model, x);
        }
        if (m_precision.mixed())
            out = toFloat32(out);
        auto loss = l.method->compute(out, teacherOut, y, sc);
        auto outcome = outcomeOf(li, loss, out.logits(), y, epoch);
        l.optimizer->zero_grad();
        scaled(loss.total).backward();
        outcome.gradFinite = gradientsFinite(li, outcome.gradParams);
        const auto seconds = [&] {
            return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        };
        if (m_deferChecks) {
            l.optimizer->step();
            l.method->afterStep(*l.model, sc);
            ++l.state.step;
            m_skips = 0;
            m_pending.push_back(std::move(outcome));
            m_stageSeconds[li] += seconds();
            return;
        }
        const auto r = read(outcome);
        if (r.fault.empty()) {
            if (m_scaler.enabled())
                m_scaler.unscale(parametersOf(li));
            l.optimizer->step();
            l.method->afterStep(*l.model, sc);
            m_scaler.update(false);
        }
        ++l.state.step;
        if (!r.fault.empty()) {
            if (!overflowSkipped(r))
                skipOrStop(l, r.fault, epoch);
            l.optimizer->zero_grad();
            m_stageSeconds[li] += seconds();
            return;
        }
        m_skips = 0;
        account(li, r);
        m_stageSeconds[li] += seconds();
    }

    /// A learner's forward on this batch: a multi-branch network runs its branches on their
    /// views when the stage has several (DistillationMethod::inputViews), any other model
    /// reads view 0.
    Features forwardOnViews(FeatureNet &model, const torch::Tensor &x)
    {
        if (!m_batchViews.empty())
            if (auto *net = dynamic_cast<MultiBranchNet *>(&model))
                return net->forwardViews(m_batchViews);
        return model.forwardFeatures(x);
    }

    /// numerics.on_nonfinite: "stop" throws naming the model, the step and the term; "skip"
    /// logs and returns, until more than max_consecutive_skips steps in a row were skipped.
    void skipOrStop(const Learner &l, const std::string &fault, int epoch)
    {
        const std::string where = l.role + ": " + fault + " is not finite at epoch " + std::to_string(epoch + 1)
            + ", step " + std::to_string(l.state.step) + " of " + std::to_string(m_totalSteps);
        const std::string advice = "; lower " + l.role + ".train.lr, check the data normalisation, or set "
            "numerics.on_nonfinite = \"skip\". The run directory keeps its last checkpoint: `kdw resume` continues from it";
        if (m_ctx.numerics.onNonFinite != "skip")
            throw Error(where + advice);
        ++m_skips;
        if (m_skips > m_ctx.numerics.maxConsecutiveSkips)
            throw Error(where + ", and " + std::to_string(m_skips) + " steps in a row were skipped (numerics."
                        "max_consecutive_skips = " + std::to_string(m_ctx.numerics.maxConsecutiveSkips) + ")" + advice);
        m_ctx.log(where + "; step skipped (numerics.on_nonfinite = \"skip\", " + std::to_string(m_skips)
                  + " in a row)");
    }

    /// A step record per learner (loss terms averaged since the last one) and a progress event.
    void logInterval(int epoch, std::int64_t s)
    {
        flushPending();
        const auto now = std::chrono::steady_clock::now();
        const double dt = std::chrono::duration<double>(now - m_intervalStart).count();
        const double ips = dt > 0 ? double(m_intervalImages) / dt : NAN;
        for (std::size_t li = 0; li < m_learners.size(); ++li) {
            auto &l = *m_learners[li];
            MetricRecord r;
            r.role = l.role;
            r.kind = MetricRecord::Kind::Step;
            r.epoch = epoch + 1;
            r.step = l.state.step;
            r.wallSeconds = m_ctx.wallSeconds();
            r.losses = m_interval[li].meanAndReset();
            r.lr = scheduledLr(l.train, epoch);
            r.imagesPerSecond = ips;
            publish(r);
        }
        m_intervalStart = now;
        m_intervalImages = 0;
        if (m_ctx.progress && m_ctx.observer) {
            const double frac = double(epoch * m_stepsPerEpoch + s + 1) / double(m_totalSteps);
            auto p = m_ctx.progress(frac, ips);
            p.epoch = epoch + 1;
            p.epochs = m_epochs;
            p.stepInEpoch = s + 1;
            p.stepsPerEpoch = m_stepsPerEpoch;
            m_ctx.observer->onProgress(p);
        }
    }

    static FeatureNet &deliveredModel(Learner &l)
    {
        const auto delivered = l.method->deliveredModel();
        return delivered ? *delivered : *l.model;
    }

    /// Evaluates every learner and writes its epoch record and log line.
    void endEpoch(int epoch)
    {
        const double epochSeconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - m_epochStart).count();
        for (std::size_t li = 0; li < m_learners.size(); ++li) {
            auto &l = *m_learners[li];
            l.state.trainSeconds += m_stageSeconds[li];
            l.state.epochsDone = epoch + 1;
            MetricRecord r;
            r.role = l.role;
            r.kind = MetricRecord::Kind::Epoch;
            r.epoch = epoch + 1;
            r.step = l.state.step;
            r.losses = m_epochAcc[li].meanAndReset();
            r.lr = scheduledLr(l.train, epoch);
            r.trainAcc = m_ctx.labelsAreTargets ? double(m_correct[li]) / double(std::max<std::int64_t>(1, m_seen)) : NAN;
            // The deliverable's accuracies: the trained model, or the network the method
            // delivers in its place (PCL's temporal mean).
            auto &delivered = deliveredModel(l);
            const auto evalStart = std::chrono::steady_clock::now();
            r.valAcc = evaluateAccuracy(delivered, m_ctx.data->val, m_ctx.device, m_ctx.evalBatchSize, m_ctx.channelsLast);
            r.testAcc = evaluateAccuracy(delivered, m_ctx.data->test, m_ctx.device, m_ctx.evalBatchSize, m_ctx.channelsLast);
            const double evalSeconds =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - evalStart).count();
            const double evalIps =
                evalSeconds > 0 ? double(m_ctx.data->val.size() + m_ctx.data->test.size()) / evalSeconds : NAN;
            r.imagesPerSecond = epochSeconds > 0 ? double(m_seen - m_seenBefore) / epochSeconds : NAN;
            r.wallSeconds = m_ctx.wallSeconds();
            l.state.finalTestAcc = r.testAcc;
            if (!(l.state.bestTestAcc >= r.testAcc))
                l.state.bestTestAcc = r.testAcc;
            evaluateExtras(l, r);
            analyse(l, r);
            publish(r);
            logEpoch(l, r, epochSeconds, evalIps);
        }
        if (m_ctx.cohort)
            evaluateCohortEnsemble(epoch);
    }

    /// The cohort's ensemble (mean of the peers' softmax outputs) as role "ensemble": the
    /// figure online methods report beside each peer's.
    void evaluateCohortEnsemble(int epoch)
    {
        std::vector<FeatureNet *> models;
        for (auto *l : m_learners)
            models.push_back(&deliveredModel(*l));
        MetricRecord r;
        r.role = "ensemble";
        r.kind = MetricRecord::Kind::Epoch;
        r.epoch = epoch + 1;
        r.step = m_first.state.step;
        r.valAcc = evaluateEnsembleAccuracy(models, m_ctx.data->val, m_ctx.device, m_ctx.evalBatchSize, m_ctx.channelsLast);
        r.testAcc = evaluateEnsembleAccuracy(models, m_ctx.data->test, m_ctx.device, m_ctx.evalBatchSize, m_ctx.channelsLast);
        r.wallSeconds = m_ctx.wallSeconds();
        publish(r);
        if (auto *e = m_ctx.ensembleSummary) {
            e->finalTestAcc = r.testAcc;
            if (!(e->bestTestAcc >= r.testAcc))
                e->bestTestAcc = r.testAcc;
            e->epochsDone = r.epoch;
            e->completed = r.epoch == m_epochs;
        }
        std::ostringstream os;
        os.setf(std::ios::fixed);
        os.precision(4);
        os << "ensemble of the " << models.size() << " peers, epoch " << r.epoch << "/" << m_epochs << ": test acc "
           << r.testAcc;
        m_ctx.log(os.str());
    }

    /// The method's extra metrics (e.g. robust accuracy) on the test set, best and last kept.
    void evaluateExtras(Learner &l, MetricRecord &r)
    {
        auto &evaluator = l.evaluator ? *l.evaluator : *l.method;
        const auto extraNames = evaluator.extraMetrics();
        if (extraNames.empty())
            return;
        l.state.finalExtra.clear();
        l.state.bestExtra.resize(extraNames.size(), {std::string(), NAN});
        for (std::size_t k = 0; k < extraNames.size(); ++k) {
            const double v =
                evaluator.evaluateExtra(extraNames[k], *l.model, m_ctx.data->test, m_ctx.device, m_ctx.evalBatchSize);
            r.extra.emplace_back(extraNames[k], v);
            l.state.finalExtra.emplace_back(extraNames[k], v);
            auto &best = l.state.bestExtra[k];
            best.first = extraNames[k];
            if (!(best.second >= v))
                best.second = v;
        }
    }

    /// The distillation views of this epoch (engine/analysis/), their scalars into the record.
    void analyse(Learner &l, MetricRecord &r)
    {
        if (!m_ctx.analyzer || !m_ctx.analyzer->wants(l.role, m_teacher.active()))
            return;
        for (auto &kv : m_ctx.analyzer->analyse(l.role, r.epoch, *l.model, m_teacher.liveModel(), m_ctx.teacherRole,
                                                *m_ctx.data))
            r.extra.push_back(std::move(kv));
    }

    /// "<role> epoch e/E: loss …, test acc …, N img/s, eval M img/s, 3s" (training and
    /// evaluation throughput; the duration is the epoch's training time).
    void logEpoch(const Learner &l, const MetricRecord &r, double epochSeconds, double evalIps) const
    {
        std::ostringstream os;
        os.setf(std::ios::fixed);
        os.precision(4);
        os << l.role << " epoch " << r.epoch << "/" << m_epochs << ": loss " << r.loss("loss");
        if (std::isfinite(r.trainAcc))
            os << ", train acc " << r.trainAcc;
        if (std::isfinite(r.valAcc))
            os << ", val acc " << r.valAcc;
        os << ", test acc " << r.testAcc;
        for (const auto &kv : r.extra)
            if (std::isfinite(kv.second)) // the analysis columns are empty for some roles
                os << ", " << kv.first << " " << kv.second;
        os.precision(0);
        os << ", " << r.imagesPerSecond << " img/s";
        if (std::isfinite(evalIps))
            os << ", eval " << evalIps << " img/s";
        os << ", " << formatDuration(epochSeconds);
        m_ctx.log(os.str());
    }

    void publish(const MetricRecord &r) const
    {
        if (m_ctx.store)
            m_ctx.store->appendMetric(r);
        if (m_ctx.observer)
            m_ctx.observer->onMetric(r);
    }

    std::vector<Learner *> m_learners;
    const TeacherSource &m_teacher;
    const TrainingContext &m_ctx;
    const Learner &m_first;
    const int m_epochs;
    const int m_batch;
    std::int64_t m_stepsPerEpoch = 1;
    std::int64_t m_totalSteps = 1;
    std::vector<TermAccumulator> m_interval, m_epochAcc;
    /// What methods log from a step (StepContext::log): the run's log.
    std::function<void(const std::string &)> m_methodLog;
    int m_views = 1;                          ///< augmented views per batch (the methods' most)
    bool m_secondStep = false;                ///< a cohort method updates its peers twice a batch
    std::vector<torch::Tensor> m_batchViews;  ///< this batch's views on the device (empty for one)

    // Per epoch.
    std::vector<std::int64_t> m_correct;
    std::int64_t m_seen = 0;
    std::chrono::steady_clock::time_point m_epochStart, m_intervalStart;
    std::int64_t m_intervalImages = 0;
    std::vector<double> m_stageSeconds;
    std::int64_t m_seenBefore = 0; ///< images of a resumed epoch seen before the resume

    std::vector<std::vector<std::pair<std::string, torch::Tensor>>> m_params; ///< per learner
    int m_skips = 0; ///< steps skipped in a row (numerics.on_nonfinite = "skip")
    Precision m_precision;
    LossScaler m_scaler{false};
    bool m_deferChecks = false; ///< steps' checks and sums read back at log points (flushPending)
    bool m_pinBatches = false;  ///< batches in pinned memory, copied to the device asynchronously
    std::vector<StepOutcome> m_pending;
    std::chrono::steady_clock::time_point m_lastCheckpoint;
};

} // namespace

bool trainStage(std::vector<Learner *> learners, const TeacherSource &teacher, const TrainingContext &ctx)
{
    if (learners.empty())
        return true;
    return StageTrainer(std::move(learners), teacher, ctx).run();
}

} // namespace kd
