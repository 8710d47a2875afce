#pragma once

// An ExperimentObserver for engine tests: records what a run reports and can ask for a stop.

#include "runs/Metrics.h"

#include <atomic>
#include <string>
#include <vector>

namespace kd::test {

/// Records events; optionally asks for a stop after N step records.
class RunRecorder : public kd::ExperimentObserver {
public:
    std::vector<kd::MetricRecord> metrics;
    std::vector<kd::ProgressInfo> progress;
    std::vector<std::string> stages;
    std::vector<std::string> logs;
    std::atomic<bool> *stopFlag = nullptr;
    int stopAfterSteps = -1;
    bool finished = false;
    std::string lastStatus, lastRunDir;

    void onLog(Level, const std::string &text) override { logs.push_back(text); }
    void onMetric(const kd::MetricRecord &r) override
    {
        metrics.push_back(r);
        if (stopFlag && r.kind == kd::MetricRecord::Kind::Step && --stopAfterSteps == 0)
            stopFlag->store(true);
    }
    void onProgress(const kd::ProgressInfo &p) override { progress.push_back(p); }
    void onStageStarted(const std::string &role, int, int) override { stages.push_back(role); }
    void onFinished(const kd::RunSummary &s) override
    {
        finished = true;
        lastStatus = s.status;
        lastRunDir = s.runDir;
    }
};

} // namespace kd::test
