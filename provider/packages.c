/*
 * provider/packages.c - the package table sspi/ walks: one entry per
 * package, in the order EnumerateSecurityPackages reports them.  NTLM and
 * Negotiate join here when their issues fill provider/ntlm/ and
 * provider/negotiate/.
 */
#include "provider/kerberos/kerb.h"
#include "provider/provider.h"

const prov_package *const prov_packages[] = {
    &kerb_package,
};

const size_t prov_n_packages = BASE_ARRAY_LEN(prov_packages);
