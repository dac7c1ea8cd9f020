/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/* The log types of the object model (vhu_obj.h): one for the control plane, one for the datapath. */

#include <rte_log.h>

#include "vhu_obj.h"

RTE_LOG_REGISTER_SUFFIX(vhu_logtype_config, config, INFO);
RTE_LOG_REGISTER_SUFFIX(vhu_logtype_data, data, WARNING);
