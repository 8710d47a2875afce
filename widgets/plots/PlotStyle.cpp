#include "PlotStyle.h"

#include <QHash>

namespace kd::ui::PlotStyle {

QColor roleColor(const QString &role)
{
    // Tableau-10 colours: distinguishable, and readable for the common colour deficiencies.
    if (role == QLatin1String("teacher"))
        return QColor(0x1f, 0x77, 0xb4);
    if (role == QLatin1String("student"))
        return QColor(0xff, 0x7f, 0x0e);
    if (role == QLatin1String("student_scratch"))
        return QColor(0x2c, 0xa0, 0x2c);
    static const QColor others[] = {QColor(0xd6, 0x27, 0x28), QColor(0x94, 0x67, 0xbd),
                                    QColor(0x8c, 0x56, 0x4b), QColor(0xe3, 0x77, 0xc2)};
    return others[qHash(role) % (sizeof(others) / sizeof(others[0]))];
}

QString roleLabel(const QString &role)
{
    if (role == QLatin1String("student"))
        return QStringLiteral("student (KD)");
    if (role == QLatin1String("student_scratch"))
        return QStringLiteral("student (scratch)");
    return role;
}

QColor runColor(int index)
{
    static const QColor palette[] = {
        QColor(0x1f, 0x77, 0xb4), QColor(0xff, 0x7f, 0x0e), QColor(0x2c, 0xa0, 0x2c),
        QColor(0xd6, 0x27, 0x28), QColor(0x94, 0x67, 0xbd), QColor(0x8c, 0x56, 0x4b),
        QColor(0xe3, 0x77, 0xc2), QColor(0x7f, 0x7f, 0x7f), QColor(0xbc, 0xbd, 0x22),
        QColor(0x17, 0xbe, 0xcf)};
    constexpr int count = int(sizeof(palette) / sizeof(palette[0]));
    return palette[((index % count) + count) % count];
}

Qt::PenStyle roleLineStyle(const QString &role)
{
    if (role == QLatin1String("teacher"))
        return Qt::DotLine;
    if (role == QLatin1String("student"))
        return Qt::SolidLine;
    if (role == QLatin1String("student_scratch"))
        return Qt::DashLine;
    return Qt::DashDotLine;
}

} // namespace kd::ui::PlotStyle
