#pragma once

#include <string>
#include <vector>

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
/// Shows `notes` one per line in `label` (e.g. the options a changed choice dropped); hides
/// the label when there are none.
void showNotes(QLabel *label, const std::vector<std::string> &notes);

} // namespace kd::ui
