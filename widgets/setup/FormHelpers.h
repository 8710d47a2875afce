#pragma once

class QFormLayout;
class QLabel;
class QWidget;

namespace kd::ui {

/// A QFormLayout on `parent` with the workbench's settings: no margins, growing fields.
QFormLayout *makeForm(QWidget *parent);
/// Gives every row label its field's tooltip, so hovering either explains the setting.
void shareTooltipsWithLabels(QFormLayout *form);
/// Word-wrapped secondary text (descriptions): the text colour faded toward the background,
/// so it reads as a note under light and dark palettes alike.
void makeSecondaryLabel(QLabel *label);

} // namespace kd::ui
