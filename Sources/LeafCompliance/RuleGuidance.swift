/// What each rule means and how to fix its findings, for the people who do.
extension ComplianceRule {
    /// What the rule checks and why it matters, in a sentence for the people who fix findings.
    public var meaning: String {
        switch self {
        case .mfaRequired: return "An additional user of an account whose owner requires MFA has no verified second factor."
        case .mfaOwner: return "A user who owns an account — and so can see and change everything in it — has no verified second factor."
        case .mfaMissing: return "An active user has no verified second factor."
        case .mfaSMSOnly: return "A user's only second factors are SMS codes, which SIM swapping and interception defeat."
        case .pwdMissing: return "An active user has no password credential at all."
        case .pwdPolicy: return "A password was set under a policy weaker than the current one (shorter, or missing a character class)."
        case .pwdHashLegacy: return "A password is stored with a hash that is neither argon2 nor bcrypt: a stolen database would give it up quickly."
        case .pwdHashWeak: return "A password hash uses argon2i, or argon2id or bcrypt below the configured work factors."
        case .accessOrphan: return "Someone holds grants in an account they are not a member of, or their user is disabled."
        case .accessRole: return "A viewer or executor holds a write grant, more than the role allows."
        case .accessBroad: return "An additional user can write every section of the account: least privilege is not applied."
        case .accessDormant: return "An additional user with write access has not logged in for longer than the dormancy period."
        }
    }

    /// What to do about a finding of the rule.
    public var fix: String {
        switch self {
        case .mfaRequired: return "Ask the user to enrol an authenticator app or security key; until then the application should block sign-in."
        case .mfaOwner: return "Ask the owner to enrol an authenticator app or security key, and recovery codes."
        case .mfaMissing: return "Encourage enrolment (in-app prompt); MFA is available to everyone."
        case .mfaSMSOnly: return "Ask the user to add an authenticator app or security key, then remove SMS."
        case .pwdMissing: return "Investigate how the account was created; force a password set or disable the user."
        case .pwdPolicy: return "Require a password change at next sign-in under the current policy."
        case .pwdHashLegacy: return "Rehash at next sign-in with argon2id; force a reset for users who do not sign in."
        case .pwdHashWeak: return "Rehash at next sign-in with the configured argon2id parameters."
        case .accessOrphan: return "Revoke the grants, or restore the membership if it was removed by mistake."
        case .accessRole: return "Revoke the write grant, or change the role if write access is intended."
        case .accessBroad: return "Reduce the grants to the sections the user needs, or make them a co-owner if that is the intent."
        case .accessDormant: return "Confirm with the owner; revoke write access of users who no longer need it."
        }
    }
}
