#pragma once

#include <string>

namespace kd {

/// The nice value training runs at in the background: an interactive program on the same
/// cores (the workbench window, a shell) gets the CPU first, and training loses nothing while
/// nothing else wants the CPU.
constexpr int kBackgroundNice = 10;

/// Gives training background CPU priority (Linux: nice kBackgroundNice, for threads that run
/// higher). Linux schedules threads one by one and a new thread inherits its creator's nice
/// value, so this lowers the calling thread and every other thread the process runs now, the
/// BLAS and torch thread pools among them, except the main thread when `keepMainThread` (the
/// window's GUI thread); threads the calling thread starts later inherit it. Call it before
/// training's first torch operation. Returns "" when done, else why not (the caller reports
/// it; training then runs at normal priority).
std::string lowerTrainingPriority(bool keepMainThread);

/// The nice value of the calling thread (0 where the platform has none).
int currentThreadNice();
/// The nice value of thread `tid` of this process (Linux thread ids; -100 if unknown).
int threadNice(long tid);
/// The Linux thread id of the calling thread (0 elsewhere).
long currentThreadId();

} // namespace kd
