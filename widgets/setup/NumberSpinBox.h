#pragma once

#include <QDoubleSpinBox>

namespace kd::ui {

/// A QDoubleSpinBox that keeps many decimals internally but shows numbers compactly
/// ("0.05", "5e-04" rather than "0.050000") and accepts scientific notation when typed,
/// so learning rates and weight decays survive a round trip through the editor.
class NumberSpinBox : public QDoubleSpinBox {
    Q_OBJECT

public:
    explicit NumberSpinBox(QWidget *parent = nullptr);

    QString textFromValue(double value) const override;
    double valueFromText(const QString &text) const override;
    QValidator::State validate(QString &text, int &pos) const override;
};

} // namespace kd::ui
