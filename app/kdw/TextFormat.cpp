#include "TextFormat.h"

#include <cmath>
#include <iomanip>
#include <sstream>

namespace kd::cli {

std::string formatDuration(double s, const char *missing)
{
    if (!std::isfinite(s) || s < 0)
        return missing;
    const long t = long(s + 0.5);
    std::ostringstream os;
    if (t >= 3600)
        os << t / 3600 << "h" << std::setw(2) << std::setfill('0') << (t % 3600) / 60 << "m";
    else if (t >= 60)
        os << t / 60 << "m" << std::setw(2) << std::setfill('0') << t % 60 << "s";
    else
        os << t << "s";
    return os.str();
}

std::string humanCount(std::int64_t n)
{
    std::ostringstream os;
    os << std::fixed << std::setprecision(2);
    if (n >= 1000000000)
        os << double(n) / 1e9 << "G";
    else if (n >= 1000000)
        os << double(n) / 1e6 << "M";
    else if (n >= 1000)
        os << double(n) / 1e3 << "k";
    else
        return std::to_string(n);
    return os.str();
}

} // namespace kd::cli
