#pragma once

#include "session/MetaTypes.h"
#include "plots/RunPlot.h"

#include <QVector>

namespace kd::ui {

/// Training loss per logged step: one curve per role and loss term. "loss" (the total that
/// is optimised) is solid; its terms such as "ce" and "kd" are dashed in the role's colour.
class LossPlot : public RunPlot {
    Q_OBJECT

public:
    explicit LossPlot(QWidget *parent = nullptr);

public Q_SLOTS:
    void addRecords(const QVector<kd::MetricRecord> &records);

protected:
    void resetRanges() override;
};

} // namespace kd::ui
