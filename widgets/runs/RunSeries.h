#pragma once

#include <runs/RunReader.h>

#include <QMetaType>
#include <QString>
#include <QVector>

#include <vector>

namespace kd::ui {

/// One logged series of one run, as the runs browser sends it to charts: a metrics.csv
/// column of one (role, kind) block, with every x axis a chart may plot it against. A value
/// type (it crosses from the reading thread to the GUI thread); missing cells are NaN.
struct RunSeries {
    QString runDir; ///< absolute run directory (the key charts colour by)
    QString runName; ///< directory name, for legends
    QString role;   ///< "teacher", "student", "student_scratch", ...
    QString kind;   ///< "step" or "epoch"
    QString column; ///< "loss", "loss_kd", "test_acc", "lr", "img_per_s", ...
    QVector<double> step;
    QVector<double> epoch;
    QVector<double> wallSeconds;
    QVector<double> y;
};

} // namespace kd::ui

Q_DECLARE_METATYPE(kd::ui::RunSeries)
Q_DECLARE_METATYPE(QVector<kd::ui::RunSeries>)
Q_DECLARE_METATYPE(kd::RunInfo)
Q_DECLARE_METATYPE(std::vector<kd::RunInfo>)
