#include "RunProcess.h"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>

#include <sys/types.h>
#include <unistd.h>

namespace kd {

std::int64_t currentProcessId()
{
    return std::int64_t(::getpid());
}

std::string currentHostName()
{
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0)
        return {};
    return buf;
}

std::int64_t processStartTicks(std::int64_t pid)
{
    if (pid <= 0)
        return -1;
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string text;
    if (!in || !std::getline(in, text))
        return -1;
    // "PID (comm) S ppid ...": comm may hold spaces and parentheses, so count fields from the
    // last ')'. Field 3 (state) follows it; starttime is field 22.
    const auto close = text.rfind(')');
    if (close == std::string::npos)
        return -1;
    std::istringstream rest(text.substr(close + 1));
    std::string field;
    for (int i = 3; i <= 22; ++i)
        if (!(rest >> field))
            return -1;
    try {
        return std::stoll(field);
    } catch (const std::exception &) {
        return -1;
    }
}

bool processAlive(std::int64_t pid, std::int64_t startTicks)
{
    if (pid <= 0)
        return false;
    // EPERM: it exists but belongs to another user.
    if (::kill(pid_t(pid), 0) != 0 && errno != EPERM)
        return false;
    {
        // A killed process not yet reaped by its parent is a zombie: it runs nothing.
        std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
        std::string text;
        if (in && std::getline(in, text)) {
            const auto close = text.rfind(')');
            if (close != std::string::npos && close + 2 < text.size()
                && (text[close + 2] == 'Z' || text[close + 2] == 'X'))
                return false;
        }
    }
    if (startTicks >= 0) {
        const auto now = processStartTicks(pid);
        if (now >= 0 && now != startTicks)
            return false;
    }
    return true;
}

std::string isoUtcNow()
{
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::int64_t parseIsoUtc(const std::string &text)
{
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
    char z = 0;
    if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c", &y, &mo, &d, &h, &mi, &s, &z) != 7 || z != 'Z')
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
        return -1;
    std::tm tm{};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    return std::int64_t(timegm(&tm));
}

} // namespace kd
