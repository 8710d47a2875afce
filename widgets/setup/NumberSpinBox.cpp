#include "NumberSpinBox.h"

#include <QLocale>

namespace kd::ui {

NumberSpinBox::NumberSpinBox(QWidget *parent) : QDoubleSpinBox(parent)
{
    // QDoubleSpinBox rounds every value to `decimals`; 12 keeps values like 5e-4 exact.
    setDecimals(12);
    setStepType(QAbstractSpinBox::AdaptiveDecimalStepType);
    setKeyboardTracking(false);
}

QString NumberSpinBox::textFromValue(double value) const
{
    return QString::number(value, 'g', 10);
}

double NumberSpinBox::valueFromText(const QString &text) const
{
    QString t = text.trimmed();
    t.replace(QLocale().decimalPoint(), QStringLiteral("."));
    return t.toDouble();
}

QValidator::State NumberSpinBox::validate(QString &text, int &pos) const
{
    Q_UNUSED(pos);
    QString t = text.trimmed();
    if (t.isEmpty() || t == QLatin1String("-") || t == QLatin1String("+"))
        return QValidator::Intermediate;
    t.replace(QLocale().decimalPoint(), QStringLiteral("."));
    bool ok = false;
    const double v = t.toDouble(&ok);
    if (!ok) {
        // Allow typing half a number such as "1e" or "1e-".
        static const QString allowed = QStringLiteral("0123456789.eE+-");
        for (QChar c : t)
            if (!allowed.contains(c))
                return QValidator::Invalid;
        return QValidator::Intermediate;
    }
    return v >= minimum() && v <= maximum() ? QValidator::Acceptable : QValidator::Intermediate;
}

} // namespace kd::ui
