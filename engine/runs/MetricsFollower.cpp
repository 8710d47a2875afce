// MetricsFollower (declared in RunReader.h): incremental, tolerant metrics.csv parsing.
#include "runs/RunReader.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <string_view>

#include <sys/stat.h>

namespace kd {

namespace {

constexpr std::size_t kMaxListedProblems = 50;

std::string_view trim(std::string_view s)
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
        s.remove_suffix(1);
    return s;
}

void splitCells(std::string_view line, std::vector<std::string_view> &cells)
{
    cells.clear();
    std::size_t start = 0;
    while (true) {
        const auto comma = line.find(',', start);
        if (comma == std::string_view::npos) {
            cells.push_back(trim(line.substr(start)));
            return;
        }
        cells.push_back(trim(line.substr(start, comma - start)));
        start = comma + 1;
    }
}

/// Empty → NaN (a value that does not apply); false for text that is no number.
bool parseNumber(std::string_view cell, double &out)
{
    if (cell.empty()) {
        out = NAN;
        return true;
    }
    const char *b = cell.data(), *e = cell.data() + cell.size();
    if (*b == '+')
        ++b;
    const auto r = std::from_chars(b, e, out);
    if (r.ec == std::errc::result_out_of_range) {
        out = (*b == '-') ? -HUGE_VAL : HUGE_VAL;
        return r.ptr == e;
    }
    if (r.ec != std::errc() || r.ptr != e) {
        out = NAN;
        return false;
    }
    return true;
}

} // namespace

MetricsFollower::MetricsFollower(std::string metricsCsvPath)
    : m_path(std::move(metricsCsvPath))
{
}

void MetricsFollower::reset()
{
    m_offset = 0;
    m_partial.clear();
    m_metrics = RunMetrics();
    m_lineNo = 0;
    m_roleCol = m_kindCol = -1;
    m_slots.clear();
    m_orphans.clear();
    m_lastBlock = 0;
    m_unlistedProblems = 0;
}

void MetricsFollower::addProblem(std::string text)
{
    auto &p = m_metrics.problems;
    if (p.size() < kMaxListedProblems) {
        p.push_back(std::move(text));
        return;
    }
    ++m_unlistedProblems;
    const std::string more = std::to_string(m_unlistedProblems) + " more problems not listed";
    if (p.size() == kMaxListedProblems)
        p.push_back(more);
    else
        p.back() = more;
}

void MetricsFollower::rebuildSlots()
{
    const auto &h = m_metrics.header;
    m_slots.assign(m_metrics.blocks.size(), {});
    m_orphans.assign(m_metrics.blocks.size(), {});
    for (std::size_t b = 0; b < m_metrics.blocks.size(); ++b) {
        auto &block = m_metrics.blocks[b];
        const std::size_t rows = block.rows();
        auto &slots = m_slots[b];
        slots.assign(h.size(), nullptr);
        for (std::size_t c = 0; c < h.size(); ++c) {
            if (int(c) == m_roleCol || int(c) == m_kindCol)
                continue;
            auto [it, added] = block.columns.try_emplace(h[c]);
            if (added)
                it->second.assign(rows, NAN); // a column the header grew: earlier rows lack it
            slots[c] = &it->second;
        }
        for (auto &kv : block.columns)
            if (std::find(slots.begin(), slots.end(), &kv.second) == slots.end())
                m_orphans[b].push_back(&kv.second);
    }
}

void MetricsFollower::setHeader(std::vector<std::string> header)
{
    m_metrics.header = std::move(header);
    m_roleCol = m_kindCol = -1;
    for (std::size_t c = 0; c < m_metrics.header.size(); ++c) {
        if (m_metrics.header[c] == "model" && m_roleCol < 0)
            m_roleCol = int(c);
        else if (m_metrics.header[c] == "kind" && m_kindCol < 0)
            m_kindCol = int(c);
    }
    rebuildSlots();
}

std::size_t MetricsFollower::blockIndex(std::string_view role, std::string_view kind)
{
    auto &blocks = m_metrics.blocks;
    if (m_lastBlock < blocks.size() && blocks[m_lastBlock].role == role && blocks[m_lastBlock].kind == kind)
        return m_lastBlock;
    for (std::size_t b = 0; b < blocks.size(); ++b)
        if (blocks[b].role == role && blocks[b].kind == kind)
            return m_lastBlock = b;
    MetricBlock block;
    block.role = std::string(role);
    block.kind = std::string(kind);
    blocks.push_back(std::move(block));
    rebuildSlots(); // the vector may have moved every block
    return m_lastBlock = blocks.size() - 1;
}

bool MetricsFollower::consume(const char *begin, const char *end)
{
    ++m_lineNo;
    const std::string_view line = trim(std::string_view(begin, std::size_t(end - begin)));
    if (line.empty())
        return false;
    thread_local std::vector<std::string_view> cells;
    splitCells(line, cells);
    auto isHeader = [&] {
        if (m_metrics.header.empty())
            return true;
        // A header written again (say, with new columns) starts with the same names.
        return m_roleCol >= 0 && m_kindCol >= 0 && std::size_t(std::max(m_roleCol, m_kindCol)) < cells.size()
            && cells[std::size_t(m_roleCol)] == "model" && cells[std::size_t(m_kindCol)] == "kind";
    };
    if (isHeader()) {
        std::vector<std::string> header(cells.begin(), cells.end());
        if (header != m_metrics.header)
            setHeader(std::move(header));
        return false;
    }
    const auto &h = m_metrics.header;
    if (cells.size() != h.size()) {
        addProblem("line " + std::to_string(m_lineNo) + ": " + std::to_string(cells.size()) + " cells, header has "
                   + std::to_string(h.size()) + " (skipped)");
        return false;
    }
    const std::string_view role = m_roleCol >= 0 ? cells[std::size_t(m_roleCol)] : std::string_view();
    const std::string_view kind = m_kindCol >= 0 ? cells[std::size_t(m_kindCol)] : std::string_view();
    const std::size_t b = blockIndex(role, kind);
    auto &slots = m_slots[b];
    for (std::size_t c = 0; c < cells.size(); ++c) {
        if (!slots[c])
            continue;
        double v;
        if (!parseNumber(cells[c], v))
            addProblem("line " + std::to_string(m_lineNo) + ": \"" + std::string(cells[c].substr(0, 40)) + "\" in column "
                       + h[c] + " is not a number (read as empty)");
        slots[c]->push_back(v);
    }
    for (auto *col : m_orphans[b])
        col->push_back(NAN);
    return true;
}

bool MetricsFollower::poll()
{
    try {
        struct stat st {};
        if (::stat(m_path.c_str(), &st) != 0)
            return false; // not there (yet): keep what was read
        bool changed = false;
        const auto size = std::uintmax_t(st.st_size);
        const bool replaced = m_offset > 0 && (std::uint64_t(st.st_ino) != m_fileId || std::uint64_t(st.st_dev) != m_deviceId);
        if (replaced || size < m_offset) {
            reset();
            changed = true;
        }
        m_fileId = std::uint64_t(st.st_ino);
        m_deviceId = std::uint64_t(st.st_dev);
        if (size == m_offset)
            return changed;
        std::ifstream in(m_path, std::ios::binary); // read-only: following never changes a run
        if (!in)
            return changed;
        in.seekg(std::streamoff(m_offset));
        // Read up to the size seen now; what is appended meanwhile is the next poll's.
        const std::size_t keep = m_partial.size();
        m_partial.resize(keep + std::size_t(size - m_offset));
        in.read(m_partial.data() + keep, std::streamsize(size - m_offset));
        const auto got = std::size_t(in.gcount());
        m_partial.resize(keep + got);
        m_offset += got;
        // Complete lines only; a torn last line waits for its newline.
        const char *data = m_partial.data();
        std::size_t start = 0;
        while (true) {
            const auto nl = m_partial.find('\n', start);
            if (nl == std::string::npos)
                break;
            changed |= consume(data + start, data + nl);
            start = nl + 1;
        }
        m_partial.erase(0, start);
        return changed;
    } catch (const std::exception &) {
        return false; // out of memory on a huge file, say: keep what was read
    }
}

} // namespace kd
