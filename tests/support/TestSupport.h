#pragma once

// Helpers every test suite shares (no torch): checking kd::Error messages, reading run files.
// Tensor checks
// against golden values are in TensorChecks.h.

#include "core/Error.h"

#include <nlohmann/json.hpp>

#include <QFile>
#include <QProcess>
#include <QStringList>
#include <QtTest>

#include <exception>
#include <initializer_list>
#include <string>

namespace kd::test {

/// The message of the kd::Error `f` throws; "<no exception>" or "<other exception: ...>" when
/// it throws none or another type, so checks on the text fail with a readable message.
template<typename F>
std::string errorOf(F &&f)
{
    try {
        f();
    } catch (const kd::Error &e) {
        return e.what();
    } catch (const std::exception &e) {
        return std::string("<other exception: ") + e.what() + ">";
    }
    return "<no exception>";
}

/// A JSON file's content; null when it cannot be opened (a parse error throws).
inline nlohmann::json readJson(const QString &path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return {};
    return nlohmann::json::parse(f.readAll().toStdString());
}

/// A text file's non-empty lines; empty when it cannot be opened.
inline QStringList readLines(const QString &path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return {};
    return QString::fromUtf8(f.readAll()).split('\n', Qt::SkipEmptyParts);
}

/// Runs kdw (`kdw`: the build's executable) in `workDir` with `args`, waiting up to
/// `timeoutMs`. Empty when it exits 0; otherwise its exit and everything it printed.
inline QString runKdwIn(const QString &kdw, const QString &workDir, const QStringList &args, int timeoutMs = 300000)
{
    QProcess p;
    p.setWorkingDirectory(workDir);
    p.setProcessChannelMode(QProcess::MergedChannels);
    p.start(kdw, args);
    if (!p.waitForFinished(timeoutMs)) {
        p.kill();
        p.waitForFinished();
        return QStringLiteral("kdw did not finish within %1 s: %2").arg(timeoutMs / 1000).arg(QString::fromUtf8(p.readAll()));
    }
    if (p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0)
        return {};
    return QStringLiteral("kdw exited %1: %2").arg(p.exitCode()).arg(QString::fromUtf8(p.readAll()));
}

/// The small analysed run the analysis suites read (run from the source tree): the quick
/// example on 300 images, a CNN student (lenet5) so both sides have 4-D stages to draw, two
/// student epochs, one thread, into `out`.
inline QStringList tinyAnalysedRunArgs(const QString &out)
{
    return {"run", "projects/fashion-mnist-quick.json", "--set", "dataset.limit=300", "--set", "dataset.test_limit=200",
            "--set", "teacher.train.epochs=1", "--set", "student.train.epochs=2", "--set", "student.arch=lenet5",
            "--set", "threads=1", "--out", out};
}

} // namespace kd::test

/// Checks that `expr` throws kd::Error and that its message contains every needle.
#define KD_VERIFY_ERROR(expr, ...)                                                                \
    do {                                                                                          \
        const std::string kdMsg_ = kd::test::errorOf([&] { (void)(expr); });                     \
        QVERIFY2(kdMsg_.rfind("<", 0) != 0, kdMsg_.c_str());                                      \
        for (const std::string &kdNeedle_ : std::initializer_list<std::string>{__VA_ARGS__})     \
            QVERIFY2(kdMsg_.find(kdNeedle_) != std::string::npos,                                 \
                     ("\"" + kdNeedle_ + "\" not in: " + kdMsg_).c_str());                        \
    } while (false)
