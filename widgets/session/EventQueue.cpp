#include "EventQueue.h"

namespace kd::ui {

void EventQueue::push(SessionEvent event)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    // Progress is a state, not a stream: when the GUI has not caught up, only the newest
    // report matters, so a progress event directly after another replaces it.
    if (std::holds_alternative<kd::ProgressInfo>(event) && !m_events.empty()
        && std::holds_alternative<kd::ProgressInfo>(m_events.back())) {
        m_events.back() = std::move(event);
        return;
    }
    m_events.push_back(std::move(event));
}

std::vector<SessionEvent> EventQueue::takeAll()
{
    std::vector<SessionEvent> out;
    std::lock_guard<std::mutex> lock(m_mutex);
    out.swap(m_events);
    return out;
}

void EventQueue::clear()
{
    std::lock_guard<std::mutex> lock(m_mutex);
    m_events.clear();
}

} // namespace kd::ui
