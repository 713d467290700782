/*
 * provider/kerberos/kerb.h - the Kerberos package, as sspi/ sees it: one
 * entry of the package table (provider/provider.h).
 */
#ifndef HSMSSP_KERB_H
#define HSMSSP_KERB_H

#include "provider/provider.h"

extern const prov_package kerb_package;

#endif
