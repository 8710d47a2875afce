#include "TrainOptionsEditor.h"

#include <algorithm>

#include "setup/FormHelpers.h"
#include "setup/NumberSpinBox.h"

#include <QCheckBox>
#include <QComboBox>
#include <QFormLayout>
#include <QSpinBox>

namespace kd::ui {

namespace {

QSpinBox *intBox(QWidget *parent, int lo, int hi, const QString &tip)
{
    auto *box = new QSpinBox(parent);
    box->setRange(lo, hi);
    box->setKeyboardTracking(false);
    box->setToolTip(tip);
    return box;
}

NumberSpinBox *numberBox(QWidget *parent, double lo, double hi, const QString &tip)
{
    auto *box = new NumberSpinBox(parent);
    box->setRange(lo, hi);
    box->setToolTip(tip);
    return box;
}

QComboBox *choiceBox(QWidget *parent, const QStringList &items, const QString &tip)
{
    auto *box = new QComboBox(parent);
    box->addItems(items);
    box->setToolTip(tip);
    return box;
}

} // namespace

TrainOptionsEditor::TrainOptionsEditor(QWidget *parent)
    : QWidget(parent),
      m_form(makeForm(this)),
      m_epochs(intBox(this, 0, 100000, tr("Passes over the training set (0: evaluate only)."))),
      m_batchSize(intBox(this, 1, 1 << 20, tr("Images per optimiser step."))),
      m_optimizer(choiceBox(this, {QStringLiteral("sgd"), QStringLiteral("adam")},
                            tr("sgd: stochastic gradient descent with momentum; adam: Adam."))),
      m_lr(numberBox(this, 0.0, 100.0, tr("Initial learning rate, in [0, 100]."))),
      m_momentum(numberBox(this, 0.0, 0.999999, tr("SGD momentum, in [0, 1)."))),
      m_nesterov(new QCheckBox(tr("Nesterov momentum"), this)),
      m_beta1(numberBox(this, 0.0, 0.999999, tr("Adam β₁: decay of the gradient average, in [0, 1)."))),
      m_beta2(numberBox(this, 0.0, 0.999999999, tr("Adam β₂: decay of the squared-gradient average, in [0, 1)."))),
      m_weightDecay(numberBox(this, 0.0, 1.0, tr("L2 weight decay added to the gradient, in [0, 1]."))),
      m_schedule(choiceBox(this, {QStringLiteral("constant"), QStringLiteral("step"), QStringLiteral("cosine")},
                           tr("How the learning rate changes over the epochs: constant, step decay "
                              "(× γ every N epochs) or cosine annealing down to the floor."))),
      m_stepEpochs(intBox(this, 1, 100000, tr("Step schedule: multiply the learning rate by γ every N epochs."))),
      m_gamma(numberBox(this, 0.0, 1.0, tr("Step schedule: factor applied every step, in [0, 1]."))),
      m_lrMin(numberBox(this, 0.0, 100.0, tr("Cosine schedule: the learning rate at the last epoch; must not exceed the learning rate."))),
      m_logEvery(intBox(this, 1, 1000000, tr("Optimiser steps between logged loss points (the loss plot's resolution)."))),
      m_limit(intBox(this, 0, 1 << 30, tr("Train on the first N training images only (0: all). A student and its "
                                          "scratch twin share it: KD with few labelled images.")))
{
    m_nesterov->setToolTip(tr("SGD only: use Nesterov's accelerated momentum (needs momentum > 0)."));
    m_form->addRow(tr("Epochs"), m_epochs);
    m_form->addRow(tr("Batch size"), m_batchSize);
    m_form->addRow(tr("Optimizer"), m_optimizer);
    m_form->addRow(tr("Learning rate"), m_lr);
    m_form->addRow(tr("Momentum"), m_momentum);
    m_form->addRow(QString(), m_nesterov);
    m_form->addRow(tr("β₁"), m_beta1);
    m_form->addRow(tr("β₂"), m_beta2);
    m_form->addRow(tr("Weight decay"), m_weightDecay);
    m_form->addRow(tr("LR schedule"), m_schedule);
    m_form->addRow(tr("Step every (epochs)"), m_stepEpochs);
    m_form->addRow(tr("Step factor γ"), m_gamma);
    m_form->addRow(tr("Final LR"), m_lrMin);
    m_form->addRow(tr("Log every (steps)"), m_logEvery);
    m_form->addRow(tr("Training images"), m_limit);
    m_limit->setSpecialValueText(tr("all"));
    shareTooltipsWithLabels(m_form);

    auto emitChanged = [this] { Q_EMIT changed(); };
    for (QSpinBox *b : {m_epochs, m_batchSize, m_stepEpochs, m_logEvery, m_limit})
        connect(b, &QSpinBox::valueChanged, this, emitChanged);
    for (NumberSpinBox *b : {m_lr, m_momentum, m_beta1, m_beta2, m_weightDecay, m_gamma, m_lrMin})
        connect(b, &QDoubleSpinBox::valueChanged, this, emitChanged);
    connect(m_nesterov, &QCheckBox::toggled, this, emitChanged);
    for (QComboBox *b : {m_optimizer, m_schedule}) {
        connect(b, &QComboBox::currentIndexChanged, this, &TrainOptionsEditor::updateVisibleRows);
        connect(b, &QComboBox::currentIndexChanged, this, emitChanged);
    }
    setOptions(kd::TrainOptions());
}

void TrainOptionsEditor::setOptions(const kd::TrainOptions &o)
{
    const QSignalBlocker blockers[] = {
        QSignalBlocker(m_epochs), QSignalBlocker(m_batchSize), QSignalBlocker(m_optimizer),
        QSignalBlocker(m_lr), QSignalBlocker(m_momentum), QSignalBlocker(m_nesterov),
        QSignalBlocker(m_beta1), QSignalBlocker(m_beta2), QSignalBlocker(m_weightDecay),
        QSignalBlocker(m_schedule), QSignalBlocker(m_stepEpochs), QSignalBlocker(m_gamma),
        QSignalBlocker(m_lrMin), QSignalBlocker(m_logEvery), QSignalBlocker(m_limit)};
    Q_UNUSED(blockers);
    m_epochs->setValue(o.epochs);
    m_batchSize->setValue(o.batchSize);
    m_optimizer->setCurrentText(QString::fromStdString(o.optimizer));
    m_lr->setValue(o.lr);
    m_momentum->setValue(o.momentum);
    m_nesterov->setChecked(o.nesterov);
    m_beta1->setValue(o.beta1);
    m_beta2->setValue(o.beta2);
    m_weightDecay->setValue(o.weightDecay);
    m_schedule->setCurrentText(QString::fromStdString(o.lrSchedule));
    m_stepEpochs->setValue(o.lrStepEpochs);
    m_gamma->setValue(o.lrGamma);
    m_lrMin->setValue(o.lrMin);
    m_logEvery->setValue(o.logEvery);
    m_limit->setValue(int(std::min<std::int64_t>(o.limit, m_limit->maximum())));
    updateVisibleRows();
}

kd::TrainOptions TrainOptionsEditor::options() const
{
    kd::TrainOptions o;
    o.epochs = m_epochs->value();
    o.batchSize = m_batchSize->value();
    o.optimizer = m_optimizer->currentText().toStdString();
    o.lr = m_lr->value();
    o.momentum = m_momentum->value();
    o.nesterov = m_nesterov->isChecked();
    o.beta1 = m_beta1->value();
    o.beta2 = m_beta2->value();
    o.weightDecay = m_weightDecay->value();
    o.lrSchedule = m_schedule->currentText().toStdString();
    o.lrStepEpochs = m_stepEpochs->value();
    o.lrGamma = m_gamma->value();
    o.lrMin = m_lrMin->value();
    o.logEvery = m_logEvery->value();
    o.limit = m_limit->value();
    return o;
}

void TrainOptionsEditor::updateVisibleRows()
{
    const bool sgd = m_optimizer->currentText() == QLatin1String("sgd");
    const QString schedule = m_schedule->currentText();
    m_form->setRowVisible(m_momentum, sgd);
    m_form->setRowVisible(m_nesterov, sgd);
    m_form->setRowVisible(m_beta1, !sgd);
    m_form->setRowVisible(m_beta2, !sgd);
    m_form->setRowVisible(m_stepEpochs, schedule == QLatin1String("step"));
    m_form->setRowVisible(m_gamma, schedule == QLatin1String("step"));
    m_form->setRowVisible(m_lrMin, schedule == QLatin1String("cosine"));
}

} // namespace kd::ui
