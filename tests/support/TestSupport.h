#pragma once

// Helpers every test suite shares (no torch): checking kd::Error messages, reading run files.
// Tensor checks
// against golden values are in TensorChecks.h.

#include "core/Error.h"

#include <nlohmann/json.hpp>

#include <QFile>
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
