#pragma once

#include "methods/MethodRegistry.h"

namespace kd {

// One registration function per method file (engine/methods/<Class>.cpp); Methods.cpp's
// registerBuiltinMethods calls them all, explicitly.
void registerHintonKdMethod(MethodRegistry &registry);   // kd
void registerDkdMethod(MethodRegistry &registry);        // dkd
void registerFitNetMethod(MethodRegistry &registry);     // fitnet
void registerAttentionTransferMethod(MethodRegistry &registry); // at
void registerSimilarityPreservingMethod(MethodRegistry &registry); // sp
void registerRkdMethod(MethodRegistry &registry);        // rkd
void registerPktMethod(MethodRegistry &registry);        // pkt
void registerNstMethod(MethodRegistry &registry);        // nst
void registerVidMethod(MethodRegistry &registry);        // vid
void registerCrdMethod(MethodRegistry &registry);        // crd
void registerOfdMethod(MethodRegistry &registry);        // ofd
void registerSrmMethod(MethodRegistry &registry);        // srm
void registerSrmLiteMethod(MethodRegistry &registry);    // srm_lite
void registerLondonMethod(MethodRegistry &registry);     // london
void registerIekdMethod(MethodRegistry &registry);       // iekd
void registerTakdMethod(MethodRegistry &registry);       // takd (after kd)
void registerEnsembleMethod(MethodRegistry &registry);   // ensemble
void registerRcMethod(MethodRegistry &registry);         // rc
void registerDmcMethod(MethodRegistry &registry);        // dmc
void registerArdMethod(MethodRegistry &registry);        // ard
// Knowledge-analysis controls (Tang et al. 2020; docs/METHODS.md)
void registerLabelSmoothingMethod(MethodRegistry &registry); // ls
void registerKdPtMethod(MethodRegistry &registry);       // kd_pt
void registerKdSimMethod(MethodRegistry &registry);      // kd_sim
// Online distillation: cohorts of peers (docs/METHODS.md, "Online distillation")
void registerDmlMethod(MethodRegistry &registry);        // dml
void registerAfdMethod(MethodRegistry &registry);        // afd
void registerOneMethod(MethodRegistry &registry);        // one
void registerFflMethod(MethodRegistry &registry);        // ffl
void registerOkddipMethod(MethodRegistry &registry);     // okddip
void registerPclMethod(MethodRegistry &registry);        // pcl
void registerMclMethod(MethodRegistry &registry);        // mcl
void registerStudentEnsembleMethod(MethodRegistry &registry); // student_ensemble

} // namespace kd
