#pragma once

#include <project/ProjectConfig.h>

#include <QWidget>

class QCheckBox;
class QComboBox;
class QFormLayout;
class QSpinBox;

namespace kd::ui {

class NumberSpinBox;

/// Edits one model's kd::TrainOptions. Rows that do not apply (momentum for Adam, the
/// step size for a cosine schedule...) are hidden; their values are kept.
class TrainOptionsEditor : public QWidget {
    Q_OBJECT

public:
    explicit TrainOptionsEditor(QWidget *parent = nullptr);

    void setOptions(const kd::TrainOptions &options);
    kd::TrainOptions options() const;

Q_SIGNALS:
    void changed();

private:
    void updateVisibleRows();

    QFormLayout *m_form;
    QSpinBox *m_epochs;
    QSpinBox *m_batchSize;
    QComboBox *m_optimizer;
    NumberSpinBox *m_lr;
    NumberSpinBox *m_momentum;
    QCheckBox *m_nesterov;
    NumberSpinBox *m_beta1;
    NumberSpinBox *m_beta2;
    NumberSpinBox *m_weightDecay;
    QComboBox *m_schedule;
    QSpinBox *m_stepEpochs;
    NumberSpinBox *m_gamma;
    NumberSpinBox *m_lrMin;
    QSpinBox *m_logEvery;
    QSpinBox *m_limit;
};

} // namespace kd::ui
