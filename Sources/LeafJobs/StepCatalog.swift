import LeafConfig

/// Every step a job file may name, in the order `leafguard jobs steps` lists them.
/// Adding a step is one new `JobStep` type and one line here.
public let stepCatalog: [any JobStep.Type] = [
    BackupStep.self,
    ReplicateStep.self,
    VerifyStep.self,
    RestoreDrillStep.self,
    PruneStep.self,
    RotateKeysStep.self,
    ReencryptStep.self,
    ScanStep.self,
    ReportStep.self,
    SealActivityStep.self,
]

extension JobLoader {
    /// A loader for this build's steps.
    public init(config: LeafguardConfig) {
        self.init(config: config, catalog: stepCatalog.map { $0 as any StepDefinition.Type })
    }
}
