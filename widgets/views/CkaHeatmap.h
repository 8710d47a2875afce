#pragma once

#include "views/MatrixHeatmap.h"

#include <runs/AnalysisReader.h>

namespace kd::ui {

/// Linear CKA between every teacher stage (rows) and every student stage (columns) of one
/// epoch, on a fixed 0–1 colour scale so epochs compare by colour.
class CkaHeatmap : public MatrixHeatmap {
    Q_OBJECT

public:
    explicit CkaHeatmap(QWidget *parent = nullptr);
    /// `teacher`/`student`: role names for the axis labels.
    void setCka(const kd::CkaMatrix &cka, const QString &teacher, const QString &student);
};

} // namespace kd::ui
