"""A botocore session that reads nothing of the host's AWS setup.

Every AWS client laneway makes is for someone else's identity: a team's S3 bucket (a cache
source) or the platform's provisioning account (the credentials Secret an EKS cluster names).
The host's configuration belongs to neither, so the session ignores all of it: no config or
credentials files, no profile (AWS_PROFILE naming a profile that does not exist would otherwise
fail every client before any request, with botocore's ProfileNotFound), no endpoint variables,
and an empty credential chain, so credentials are the ones passed explicitly or none.
"""

from __future__ import annotations

import botocore.session
from botocore.credentials import CredentialResolver


def isolated_session() -> botocore.session.Session:
    """A session whose clients use only the region, endpoint and credentials given to them."""
    session = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
    session.set_config_variable("config_file", "/dev/null")
    session.set_config_variable("credentials_file", "/dev/null")
    session.set_config_variable("ignore_configured_endpoint_urls", True)
    session.register_component("credential_provider", CredentialResolver(providers=[]))
    return session
