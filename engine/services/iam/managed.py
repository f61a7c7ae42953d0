"""The AWS managed policies the engine knows, trimmed to what SageMaker work touches.

Real AWS managed policies are long; these keep their names and the statements
that decide the exam's questions (for example, AmazonSageMakerFullAccess reaches
only buckets whose names contain "sagemaker", so a role relying on it alone
cannot read ``sagetutor-datasets``).
"""

from __future__ import annotations

AWS_MANAGED: dict[str, dict] = {
    "AdministratorAccess": {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    },
    "AmazonSageMakerFullAccess": {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "AllowAllNonAdminSageMakerActions", "Effect": "Allow", "Action": ["sagemaker:*"],
             "NotResource": ["arn:aws:sagemaker:*:*:domain/*", "arn:aws:sagemaker:*:*:user-profile/*",
                             "arn:aws:sagemaker:*:*:app/*", "arn:aws:sagemaker:*:*:flow-definition/*"]},
            {"Effect": "Allow", "Action": ["ecr:GetAuthorizationToken", "ecr:GetDownloadUrlForLayer",
                                           "ecr:BatchGetImage", "ecr:BatchCheckLayerAvailability",
                                           "cloudwatch:PutMetricData", "cloudwatch:GetMetricData",
                                           "logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents",
                                           "logs:DescribeLogStreams", "logs:GetLogEvents"], "Resource": "*"},
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
             "Resource": ["arn:aws:s3:::*SageMaker*", "arn:aws:s3:::*Sagemaker*", "arn:aws:s3:::*sagemaker*"]},
            {"Effect": "Allow", "Action": ["s3:CreateBucket", "s3:GetBucketLocation", "s3:ListBucket",
                                           "s3:ListAllMyBuckets"], "Resource": "*"},
            {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "arn:aws:iam::*:role/*",
             "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}},
        ],
    },
    "AmazonS3FullAccess": {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:*", "s3-object-lambda:*"], "Resource": "*"}],
    },
    "AmazonS3ReadOnlyAccess": {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:Get*", "s3:List*", "s3:Describe*"], "Resource": "*"}],
    },
    "CloudWatchLogsFullAccess": {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["logs:*"], "Resource": "*"}],
    },
    "AmazonEC2ContainerRegistryReadOnly": {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability",
                                                     "ecr:GetDownloadUrlForLayer", "ecr:GetRepositoryPolicy",
                                                     "ecr:DescribeRepositories", "ecr:ListImages",
                                                     "ecr:DescribeImages", "ecr:BatchGetImage"], "Resource": "*"}],
    },
}

SAGEMAKER_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}

#: The inline policy of the default execution role: the data SageMaker jobs need.
EXECUTION_ROLE_ACCESS = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "S3DataAndArtifacts", "Effect": "Allow",
         "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket", "s3:GetBucketLocation"],
         "Resource": ["arn:aws:s3:::*", "arn:aws:s3:::*/*"]},
    ],
}
