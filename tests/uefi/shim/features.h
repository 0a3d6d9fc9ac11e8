/* libstdc++ 12's <bits/os_defines.h> includes <features.h> for glibc's version macro; a
   UEFI build has no glibc, so this stands in for it and answers "no glibc". */
#pragma once
#define __GLIBC_PREREQ(major, minor) 0
