#include "KdwCommands.h"

int main(int argc, char **argv)
{
    return kd::cli::runKdw(argc, argv);
}
