#pragma once

#include "session/SessionEvent.h"

#include <mutex>
#include <vector>

namespace kd::ui {

/// The hand-over point between the training thread (push) and the GUI thread (takeAll).
/// The lock is held only to move values in or out, never while either side does work,
/// so neither thread can stall the other.
class EventQueue {
public:
    void push(SessionEvent event);
    /// Everything queued so far, oldest first; leaves the queue empty.
    std::vector<SessionEvent> takeAll();
    void clear();

private:
    std::mutex m_mutex;
    std::vector<SessionEvent> m_events;
};

} // namespace kd::ui
