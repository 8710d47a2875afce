#include "Priority.h"

#if defined(__linux__)
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <vector>
#endif

namespace kd {

#if defined(__linux__)

long currentThreadId()
{
    return long(::syscall(SYS_gettid));
}

int threadNice(long tid)
{
    errno = 0;
    const int nice = ::getpriority(PRIO_PROCESS, id_t(tid));
    return errno == 0 ? nice : -100;
}

int currentThreadNice()
{
    const int nice = threadNice(currentThreadId());
    return nice == -100 ? 0 : nice;
}

std::string lowerTrainingPriority(bool keepMainThread)
{
    std::vector<long> tids;
    if (DIR *dir = ::opendir("/proc/self/task")) {
        while (const dirent *e = ::readdir(dir)) {
            char *end = nullptr;
            const long tid = std::strtol(e->d_name, &end, 10);
            if (tid > 0 && end && *end == '\0')
                tids.push_back(tid);
        }
        ::closedir(dir);
    }
    const long self = currentThreadId();
    tids.push_back(self); // also where /proc is not mounted
    const long mainThread = long(::getpid());
    for (const long tid : tids) {
        if (keepMainThread && tid == mainThread && tid != self)
            continue;
        const int nice = threadNice(tid);
        if (nice == -100 || nice >= kBackgroundNice)
            continue; // ended meanwhile, or already lower
        if (::setpriority(PRIO_PROCESS, id_t(tid), kBackgroundNice) != 0 && errno != ESRCH) {
            if (tid == self)
                return std::string("cannot lower training's CPU priority: ") + std::strerror(errno);
        }
    }
    return {};
}

#else

long currentThreadId()
{
    return 0;
}

int threadNice(long)
{
    return -100;
}

int currentThreadNice()
{
    return 0;
}

std::string lowerTrainingPriority(bool)
{
    return "background CPU priority is implemented for Linux only; training runs at normal priority";
}

#endif

} // namespace kd
