#pragma once

#include "session/MetaTypes.h"
#include "plots/RunPlot.h"

#include <QVector>

namespace kd::ui {

/// Accuracy per epoch for every role: test accuracy solid with markers, training accuracy
/// dashed, validation accuracy dotted, in the role's colour; the method's own test-set
/// accuracies (extra metrics named "*_acc": every branch and the ensemble of a multi-branch
/// network) thin dash-dot in shades of it.
class AccuracyPlot : public RunPlot {
    Q_OBJECT

public:
    explicit AccuracyPlot(QWidget *parent = nullptr);

public Q_SLOTS:
    void addRecords(const QVector<kd::MetricRecord> &records);

protected:
    void fitToData() override;
    void resetRanges() override;

private:
    void addPoint(const QString &role, const QString &split, Qt::PenStyle style, int epoch,
                  double accuracy, int shade = 0);
};

} // namespace kd::ui
